"""Flash-sale sessions with server time, stock left and the member's allowance."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
