from django.urls import include, path

from members.api import views

urlpatterns = [
    path("auth/wechat/login", views.LoginView.as_view(), name="auth-wechat-login"),
    path("auth/logout", views.LogoutView.as_view(), name="auth-logout"),
    path("me", views.MeView.as_view(), name="me"),
    path("me/phone", views.PhoneView.as_view(), name="me-phone"),
    path("addresses/", views.AddressListView.as_view(), name="address-list"),
    path("addresses/<int:address_id>/", views.AddressDetailView.as_view(), name="address-detail"),
    path("", include("members.api.subscriptions")),
    path("", include("members.api.loyalty")),
    path("", include("members.api.points")),
]
