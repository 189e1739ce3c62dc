from django.urls import path

from wechat.api import views

urlpatterns = [
    path("wechat/messages", views.MessagePushView.as_view(), name="wechat-message-push"),
]
