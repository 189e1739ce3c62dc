"""Mini-program API module; its `urlpatterns` are included by the app's api/urls.py."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
