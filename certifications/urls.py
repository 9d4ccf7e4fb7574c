from django.urls import path

from . import views
from .cpr import views as cpr_views

urlpatterns = [
    path("certificates/<str:number>.pdf", views.certificate_download, name="certificate_download"),
    path("certifications/<int:certification_id>/maintenance/", cpr_views.cpr_maintenance, name="cpr_maintenance"),
    path("certifications/<int:certification_id>/cpr-files/", cpr_views.cpr_file_upload, name="cpr_file_upload"),
    path("certifications/<int:certification_id>/cpr-files/remove-all/", cpr_views.cpr_draft_discard,
         name="cpr_draft_discard"),
    path("cpr-files/<uuid:key>/", cpr_views.cpr_file_download, name="cpr_file_download"),
]
