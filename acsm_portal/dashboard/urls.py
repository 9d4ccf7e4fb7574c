from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
    path("cecs/report/", views.report, name="cec_report"),
    path("cecs/<int:pk>/edit/", views.edit, name="cec_edit"),
    path("cecs/<int:pk>/delete/", views.delete, name="cec_delete"),
]
