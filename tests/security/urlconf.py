"""Every view the URL conf serves, with a way to build a URL for it.

The security tests iterate over ``endpoints()`` rather than a hand-written list, so a
view added to any urls.py (or a model registered in the admin) is checked the day it
appears. A converter or regex group that cannot be filled makes the tests fail and say so.
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.converters import IntConverter, PathConverter, SlugConverter, StringConverter, UUIDConverter
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils.regex_helper import normalize

# Views anyone may open without logging in. Adding a login_not_required view means adding it here.
PUBLIC = frozenset({
    "login",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "healthz",
    "readyz",  # the readiness check of load balancers: which shared services answer, nothing else
    "stripe_webhook",  # csrf_exempt, verified by its Stripe signature instead
    "email_unsubscribe",  # csrf_exempt (RFC 8058 one-click), the signed token in its URL is the proof
    "admin:login",
    # The provider API answers without a portal login: its views take a provider's API token (Bearer) and never a
    # session, so they answer 401 JSON rather than a redirect (tests/providers/test_api_security.py); the schema
    # and its docs page describe the API and hold no data.
    "api:completions",
    "api:completions_without_slash",
    "api:completion",
    "api:schema",
    "api:docs",
    # The page that checks an uploaded certificate PDF's signature (POST throttled per address).
    "verify_document",
    # A certificate's public status page (found by its unguessable code), the search for one by number and last
    # name, and Find a certified professional (people who opted in): read-only GET pages, throttled per address.
    "verify",
    "verify_search",
    "find_a_pro",
    # Open Badges: the issuer's public key, a credential's live status and the page that checks a credential.
    "did_document",
    "issuer_jwks",
    "credential_status",
    "verify_credential",
})

SAMPLE_BY_CONVERTER = {
    IntConverter: "1",
    StringConverter: "R25-000000",
    SlugConverter: "sample",
    PathConverter: "1",
    UUIDConverter: "6f1c2a52-3c1e-4c1e-9f0a-2b7d5d0c9e11",
}
# Regex groups carry no converter: sample values by group name.
SAMPLE_BY_GROUP = {
    "app_label": "accounts",  # the admin's per-app index
    "url": "no-such-page/",  # the admin's final catch-all
}

_PARAMETER = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<parameter>[^>]+)>")


@dataclass(frozen=True)
class Endpoint:
    name: str  # "namespace:name", or the route itself for an unnamed pattern
    route: str  # the patterns from the root, joined, as written in the urls.py files
    callback: Callable
    patterns: tuple

    def __str__(self) -> str:
        return self.name

    @property
    def namespace(self) -> str:
        return self.name.split(":", 1)[0] if ":" in self.name else ""

    @property
    def is_admin(self) -> bool:
        return self.route.startswith("staff/")

    @property
    def parameters(self) -> tuple[str, ...]:
        names: list[str] = []
        for pattern in self.patterns:
            if isinstance(pattern, RoutePattern):
                names += list(pattern.converters)
            else:
                names += list(pattern.regex.groupindex)
        return tuple(names)

    @property
    def login_required(self) -> bool:
        """What LoginRequiredMiddleware reads from the view."""
        return getattr(self.callback, "login_required", True)

    def url(self, **values) -> str:
        """The path with each parameter taken from ``values`` or filled with a sample; checked to resolve back here."""
        path = "/" + "".join(_fill(pattern, values) for pattern in self.patterns)
        found = resolve(path)
        if found.func is not self.callback:
            raise AssertionError(f"{path} built for {self.name} resolves to {found.view_name or found.route}")
        return path


def _fill(pattern, values: dict) -> str:
    if isinstance(pattern, RoutePattern):
        def value(match: re.Match) -> str:
            name = match["parameter"]
            converter = pattern.converters[name]
            if name in values:
                return converter.to_url(values[name])
            try:
                return SAMPLE_BY_CONVERTER[type(converter)]
            except KeyError:
                raise LookupError(f"No sample value for converter {type(converter).__name__} "
                                  f"(<{match[0]}>): add one to SAMPLE_BY_CONVERTER") from None
        return _PARAMETER.sub(value, str(pattern))
    if isinstance(pattern, RegexPattern):
        template, groups = normalize(pattern.regex.pattern)[0]
        filled = {}
        for name in groups:
            if name in values:
                filled[name] = str(values[name])
            elif name in SAMPLE_BY_GROUP:
                filled[name] = SAMPLE_BY_GROUP[name]
            else:
                raise LookupError(f"No sample value for regex group {name!r} in {pattern.regex.pattern!r}: "
                                  "add one to SAMPLE_BY_GROUP")
        return template % filled
    raise TypeError(f"Unknown pattern type {type(pattern).__name__}")


def _walk(resolver: URLResolver, patterns: tuple, namespaces: tuple) -> Iterator[Endpoint]:
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry, patterns + (entry.pattern,),
                             namespaces + ((entry.namespace,) if entry.namespace else ()))
        elif isinstance(entry, URLPattern):
            chain = patterns + (entry.pattern,)
            route = "".join(str(p) for p in chain)
            name = ":".join(namespaces + (entry.name,)) if entry.name else route
            yield Endpoint(name=name, route=route, callback=entry.callback, patterns=chain)
        else:
            raise TypeError(f"Unknown URL conf entry {entry!r}")


def endpoints() -> list[Endpoint]:
    return list(_walk(get_resolver(), (), ()))
