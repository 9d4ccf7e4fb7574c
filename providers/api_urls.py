"""The provider API under ``/api/v1/``: completions, the OpenAPI schema and its documentation page.

Every view here answers without a portal login (``login_not_required``): the completions by a provider's token
(``providers.api``), the schema and its page to anyone, since they describe the API and hold no data.
"""

from django.contrib.auth.decorators import login_not_required
from django.urls import path, re_path
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView

from . import api

app_name = "api"


@extend_schema_view(get=extend_schema(exclude=True), post=extend_schema(exclude=True))
class CompletionsWithoutSlashView(api.CompletionsView):
    """``completions`` without its trailing slash: a redirect would turn a client's POST into a GET and lose the
    completions. Left out of the schema, which names the one address."""


urlpatterns = [
    path("completions/", login_not_required(api.CompletionsView.as_view()), name="completions"),
    re_path(r"^completions$", login_not_required(CompletionsWithoutSlashView.as_view()),
            name="completions_without_slash"),
    path("completions/<path:external_id>/", login_not_required(api.CompletionView.as_view()), name="completion"),
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="schema"),
    path("docs/", login_not_required(api.DocsView.as_view()), name="docs"),
]
