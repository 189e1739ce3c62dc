"""Birthday and anniversary greetings: the member's posters."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
