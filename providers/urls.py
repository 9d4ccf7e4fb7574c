from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="provider_home"),
    path("completions/", views.completion_list, name="provider_completions"),
    path("completions/new/", views.completion_new, name="provider_completion_new"),
    path("completions/<int:pk>/retract/", views.completion_retract_view, name="provider_completion_retract"),
    path("roster/", views.roster_upload, name="provider_roster"),
    path("roster/rejected.csv", views.roster_rejected, name="provider_roster_rejected"),
    path("roster-template.csv", views.roster_template, name="provider_roster_template"),
]
