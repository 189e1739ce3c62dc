from django.apps import AppConfig

from payments.registry import payable_kind_register
from wechat.media_kinds import media_kind_register


class ShopConfig(AppConfig):
    name = "shop"
    verbose_name = "商城"

    def ready(self) -> None:
        from shop.services.aftersales import AFTER_SALE_PHOTO_MEDIA  # noqa: PLC0415 - services load models: the app registry is ready only now
        from shop.services.payments import ORDER_PAYABLE  # noqa: PLC0415 - services load models: the app registry is ready only now
        from shop.services.reviews import REVIEW_PHOTO_MEDIA  # noqa: PLC0415 - services load models: the app registry is ready only now

        payable_kind_register(ORDER_PAYABLE)
        media_kind_register(REVIEW_PHOTO_MEDIA)
        media_kind_register(AFTER_SALE_PHOTO_MEDIA)
