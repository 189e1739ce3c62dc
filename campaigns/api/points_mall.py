"""The points mall: items exchangeable for points."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
