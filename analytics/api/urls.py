from django.urls import path

from analytics.api import views

urlpatterns = [
    path("events", views.EventsView.as_view(), name="events"),
]
