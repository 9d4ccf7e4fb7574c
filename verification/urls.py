"""Public pages that answer whether a certificate is real and current: no log-in, throttled per address."""

from django.urls import include, path

# The fixed addresses (/verify/document/, /verify/credential/) come before the status pages' /verify/<code>/.
urlpatterns = [
    path("", include("verification.urls_documents")),
    path("", include("verification.urls_badges")),
    path("", include("verification.urls_status")),
]
