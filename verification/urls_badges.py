"""Open Badges 3.0: the holder's signed credential, the issuer's published key (did:web and JWKS), a credential's
live status and the public page that checks a credential (see ``verification.badges``)."""

from django.urls import path

from . import views_badges as views

urlpatterns = [
    path(".well-known/did.json", views.did_document, name="did_document"),
    path(".well-known/jwks.json", views.issuer_jwks, name="issuer_jwks"),
    path("verify/credential/", views.verify_credential, name="verify_credential"),
    path("verify/<str:code>/status.json", views.credential_status, name="credential_status"),
    path("certificates/<str:number>/badge.jwt", views.badge_download, name="badge_download"),
]
