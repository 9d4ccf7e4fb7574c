from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

admin.site.site_header = "MyACSM staff"
admin.site.site_title = "MyACSM staff"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", account_views.healthz, name="healthz"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("", include("certifications.urls")),
    path("", include("cecs.urls")),
    path("", include("cart.urls")),
    path("", include("payments.urls")),
    path("staff/", admin.site.urls),
]
