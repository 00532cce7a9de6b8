"""The newsroom's URLs. ConsentMiddleware serves /_consent/... itself, before Django."""

from __future__ import annotations

from django.urls import path  # type: ignore[import-untyped]

from . import views

urlpatterns = [
    path("", views.front_page, name="front_page"),
    path("articles/<slug:slug>", views.article, name="article"),
    path("newsletter", views.newsletter, name="newsletter"),
    path("consent.json", views.consent_json, name="consent_json"),
    path("static/<str:name>", views.static_file, name="static_file"),
]
