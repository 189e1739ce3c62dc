"""Redeem a partner code, scan a channel code."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
