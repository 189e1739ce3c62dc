from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "商城"

    def ready(self) -> None:
        # Imported here: services need the app registry, which is ready only now.
        from payments.registry import payable_kind_register
        from shop.services.payments import ORDER_PAYABLE

        payable_kind_register(ORDER_PAYABLE)
