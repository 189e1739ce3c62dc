from django.apps import AppConfig

from payments.registry import payable_kind_register


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "会员"

    def ready(self) -> None:
        from members.services.cards import CARD_PAYABLE  # noqa: PLC0415 - services load models: the app registry is ready only now

        payable_kind_register(CARD_PAYABLE)
