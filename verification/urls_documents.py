"""URLs of the verification app: checking an uploaded certificate PDF (``verification.documents``)."""

from django.urls import path

from . import documents

urlpatterns = [
    path("verify/document/", documents.verify_document, name="verify_document"),
]
