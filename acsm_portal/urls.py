from django.contrib import admin
from django.contrib.auth import urls as auth_urls
from django.urls import include, path

from accounts import views as account_views

admin.site.site_header = "MyACSM staff"
admin.site.site_title = "MyACSM staff"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", account_views.healthz, name="healthz"),  # liveness: the process answers
    path("readyz", account_views.readyz, name="readyz"),  # readiness: Postgres, Redis and the storage answer
    path("accounts/login/", account_views.PortalLoginView.as_view(), name="login"),
    path("accounts/profile/", account_views.profile, name="profile"),
    path("accounts/email/", account_views.email_preferences, name="email_preferences"),
    path("email/unsubscribe/<str:token>/", account_views.email_unsubscribe, name="email_unsubscribe"),
    # Django's account pages, but for log-in, which also takes the browser's time zone.
    path("accounts/", include([p for p in auth_urls.urlpatterns if p.name != "login"])),
    path("", include("acsm_portal.dashboard.urls")),
    path("", include("certifications.urls")),
    path("", include("cart.urls")),
    path("", include("payments.urls")),
    path("", include("audits.urls")),
    path("provider/", include("providers.urls")),
    path("api/v1/", include("providers.api_urls")),
    path("", include("verification.urls")),
    path("staff/", admin.site.urls),
]
