from django.urls import path

from payments.api import views

urlpatterns = [
    path("payments/wechat/notify", views.WechatPaymentNotifyView.as_view(), name="payment-wechat-notify"),
    path("payments/wechat/transfer-notify", views.WechatTransferNotifyView.as_view(),
         name="payment-wechat-transfer-notify"),
]
