"""The status pages: a certificate's public verify page, the search for one by number and last name, and Find a
certified professional (with the person's own choice to be listed, set from their profile)."""

from django.urls import path

from . import views

urlpatterns = [
    path("verify/", views.verify_search, name="verify_search"),
    path("verify/<str:code>/", views.verify, name="verify"),
    path("find/", views.find_a_pro, name="find_a_pro"),
    path("find/listing/", views.find_a_pro_listing, name="find_a_pro_listing"),
]
