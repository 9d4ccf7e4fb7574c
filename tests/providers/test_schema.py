"""The provider API's OpenAPI document (``/api/v1/schema/``) is valid OpenAPI 3, lists exactly the API's views and
methods with the bearer-token scheme, and ``manage.py spectacular --validate --fail-on-warn`` is clean; its docs
page (``/api/v1/docs/``) loads only this site's own files, with no inline code, in Chromium too."""

import json
import re
from html.parser import HTMLParser

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.urls import URLPattern, get_resolver
from openapi_spec_validator import validate
from playwright.sync_api import Page, expect

from providers import api, api_urls
from tests.e2e.helpers import EXPECT_TIMEOUT_MS, patient
from tests.security.pages import inline_code

SCHEMA = "/api/v1/schema/"
DOCS = "/api/v1/docs/"
REFUSALS = {"401", "403", "429"}


@pytest.fixture
def schema(client) -> dict:
    response = client.get(SCHEMA, {"format": "json"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return json.loads(response.content)


def api_views() -> dict[str, set[str]]:
    """The API's own views as the URL conf serves them: OpenAPI path -> the methods each view defines."""
    found = {}
    for pattern in get_resolver("providers.api_urls").url_patterns:
        assert isinstance(pattern, URLPattern)
        view = getattr(pattern.callback, "cls", None)
        if view is None or not issubclass(view, api.ProviderAPIMixin):
            continue
        if view is api_urls.CompletionsWithoutSlashView:  # the same view without its slash, left out of the schema
            continue
        route = "/api/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))
        found[route] = {m for m in view.http_method_names if m not in ("options", "head") and hasattr(view, m)}
    return found


@pytest.mark.django_db
def test_the_schema_is_valid_openapi_3(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "MyACSM provider API"


@pytest.mark.django_db
def test_the_schema_lists_exactly_the_views_and_their_methods(schema):
    published = {path: set(operations) for path, operations in schema["paths"].items()}
    assert published == api_views() == {
        "/api/v1/completions/": {"get", "post"},
        "/api/v1/completions/{external_id}/": {"delete"},
    }


@pytest.mark.django_db
def test_every_operation_needs_the_bearer_token_and_says_how_it_answers(schema):
    assert schema["components"]["securitySchemes"] == {"ProviderToken": {
        "type": "http", "scheme": "bearer",
        "description": "A provider API token (prefix.secret), made in the staff admin or by "
                       "`manage.py create_provider_token --provider NUMBER`."}}
    operations = {(path, method): op for path, ops in schema["paths"].items() for method, op in ops.items()}
    assert {key: op["security"] for key, op in operations.items()} == {key: [{"ProviderToken": []}]
                                                                        for key in operations}
    codes = {key: set(op["responses"]) for key, op in operations.items()}
    assert codes == {
        ("/api/v1/completions/", "post"): {"200", "201", "400", "415"} | REFUSALS,
        ("/api/v1/completions/", "get"): {"200", "400", "404"} | REFUSALS,
        ("/api/v1/completions/{external_id}/", "delete"): {"200", "400", "404", "409"} | REFUSALS,
    }
    post = operations["/api/v1/completions/", "post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/"
                                                                                    "CompletionsPost"}
    assert schema["components"]["schemas"]["CompletionsPost"] == {"oneOf": [
        {"$ref": "#/components/schemas/CompletionIn"}, {"$ref": "#/components/schemas/CompletionBatch"}]}
    item = schema["components"]["schemas"]["CompletionIn"]
    assert set(item["properties"]) == {"member_id", "last_name", "course_number", "completed_on", "external_id",
                                       "cecs"}
    assert set(item["required"]) == {"member_id", "last_name", "course_number", "completed_on", "external_id"}
    batch = schema["components"]["schemas"]["CompletionBatch"]["properties"]["completions"]
    assert (batch["minItems"], batch["maxItems"]) == (1, 1000)
    listing = operations["/api/v1/completions/", "get"]
    assert {p["name"] for p in listing["parameters"]} == {"completed_from", "completed_to", "course_number", "state",
                                                          "page", "page_size"}
    retract = operations["/api/v1/completions/{external_id}/", "delete"]
    assert {(p["name"], p["in"]) for p in retract["parameters"]} == {("external_id", "path"), ("reason", "query")}


@pytest.mark.django_db
def test_the_spectacular_command_validates_without_a_warning(tmp_path, schema):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert yaml.safe_load(target.read_text()) == schema


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


@pytest.mark.django_db
def test_the_docs_page_uses_only_local_files_and_no_inline_code(client):
    response = client.get(DOCS)
    assert response.status_code == 200
    html = response.content.decode()
    assert inline_code(html) == []
    assert "<style" not in html and ' style="' not in html
    links = _Links()
    links.feed(html)
    assert len(links.urls) == 5  # favicon, stylesheet, the two Swagger UI bundles, the start-up script
    assert all(url.startswith("/") and not url.startswith("//") for url in links.urls), links.urls
    statics = [url for url in links.urls if url.startswith("/static/")]
    assert len(statics) == 4
    assert all(finders.find(url.removeprefix("/static/")) for url in statics)
    assert "Content-Security-Policy" in response
    script = client.get(DOCS + "?script=")
    assert script.status_code == 200
    assert script["Content-Type"] == "application/javascript"
    assert f'url: "{SCHEMA}"' in script.content.decode()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_loads_nothing_from_another_site_in_chromium(live_server, page: Page):
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    patient(page.context)
    requested, problems = [], []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(live_server.url + DOCS)
    expect(page.get_by_text("MyACSM provider API").first).to_be_visible()
    expect(page.get_by_text("/api/v1/completions/{external_id}/")).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    assert [url for url in requested if not url.startswith(live_server.url + "/")] == []
    assert any(url.startswith(live_server.url + SCHEMA) for url in requested)
    assert problems == []
