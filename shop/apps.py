from django.apps import AppConfig

from payments.registry import payable_kind_register


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "商城"

    def ready(self) -> None:
        from shop.services.payments import ORDER_PAYABLE  # noqa: PLC0415 - services load models: the app registry is ready only now

        payable_kind_register(ORDER_PAYABLE)
