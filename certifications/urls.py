from django.urls import path

from . import views

urlpatterns = [
    path("certificates/<str:number>.pdf", views.certificate_download, name="certificate_download"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("certifications/<int:certification_id>/maintenance/", views.cpr_maintenance, name="cpr_maintenance"),
    path("certifications/<int:certification_id>/cpr-files/", views.cpr_file_upload, name="cpr_file_upload"),
    path("certifications/<int:certification_id>/cpr-files/remove-all/", views.cpr_draft_discard,
         name="cpr_draft_discard"),
    path("cpr-files/<uuid:key>/", views.cpr_file_download, name="cpr_file_download"),
]
