"""Public pages that answer whether a certificate is real and current: no log-in, throttled per address."""

from django.urls import include, path

urlpatterns = [
    path("", include("verification.urls_status")),
    path("", include("verification.urls_documents")),
    path("", include("verification.urls_badges")),
]
