"""Points: balance, ledger, expiring lots."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
