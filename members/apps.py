from django.apps import AppConfig


class MembersConfig(AppConfig):
    name = "members"
    verbose_name = "会员"

    def ready(self) -> None:
        # Imported here: services need the app registry, which is ready only now.
        from members.services.cards import CARD_PAYABLE
        from payments.registry import payable_kind_register

        payable_kind_register(CARD_PAYABLE)
