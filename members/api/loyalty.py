"""Loyalty API: tiers and growth, points, sign-in, paid cards."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
