"""The project's routes."""

from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("stream", views.stream),
    path("session", views.visits),
    path("crash", views.crash),
]
