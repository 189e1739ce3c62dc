"""Coupon centre, my coupons, claim, redeem a code, scan a channel code."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
