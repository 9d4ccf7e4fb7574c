from django.urls import path

from . import views

urlpatterns = [
    path("audits/<int:audit_id>/", views.audit_page, name="audit"),
    path("audits/<int:audit_id>/credits/<int:credit_id>/proof/", views.proof_upload, name="audit_proof_upload"),
    path("audits/<int:audit_id>/proof/<int:proof_id>/remove/", views.proof_remove, name="audit_proof_remove"),
    path("audits/<int:audit_id>/submit/", views.submit, name="audit_submit"),
    path("audits/<int:audit_id>/replacements/", views.replacement_add, name="audit_replacement_add"),
    path("audits/<int:audit_id>/replacements/<int:credit_id>/remove/", views.replacement_remove,
         name="audit_replacement_remove"),
    path("audit-proof/<uuid:key>/", views.proof_download, name="audit_proof_download"),
]
