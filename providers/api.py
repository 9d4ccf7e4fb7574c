"""The provider REST API (``/api/v1/``): an approved provider's systems post course completions, list them and
retract them, authenticated by the provider's API token (``Authorization: Bearer <token>``), never by a session.

- ``POST /api/v1/completions/``: one completion object, or ``{"completions": [...]}`` with up to
  ``rules.BATCH_LIMIT`` of them. Each item is parsed on its own (format errors per field), then the good ones go to
  ``services.completions_post`` in one call. The answer always has the same shape, ``{"accepted", "duplicate",
  "rejected", "results": [{index, external_id, status, completion, errors}]}``, with the status
  **201** when at least one completion was made, **200** when none was made but at least one item was a duplicate
  (a retry: ``completion`` is the first one, unchanged), **400** when every item was rejected. A request that cannot
  be read as completions (no items, more than the limit, not JSON) is a 400 ``{field: [message]}``.
- ``GET /api/v1/completions/``: this provider's completions, newest posted first, by pages of 100
  (``?page=``, ``?page_size=`` up to 1,000), filtered by ``completed_from``, ``completed_to`` (YYYY-MM-DD),
  ``course_number`` and ``state``; three queries a page.
- ``DELETE /api/v1/completions/{external_id}/`` with ``{"reason": "..."}`` (or ``?reason=``): retracts it (200);
  another provider's or an unknown one is 404 (the same answer), one posted more than ``rules.RETRACT_DAYS`` days
  ago is 409, no reason 400.

Errors are JSON: ``{"detail": message}`` for the request as a whole (401 no or bad token, 403 inactive provider,
404, 405, 409, 415, 429 throttled with ``Retry-After``), ``{field: [message, ...]}`` for a field. Every answer
carries ``Cache-Control: no-store, private``: it names certificants.
"""

from datetime import timezone as dt_timezone

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import prefetch_related_objects
from django.utils.cache import patch_cache_control
from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerExtension
from drf_spectacular.utils import (OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema,
                                   inline_serializer)
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import PageNumberPagination
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_api_key.permissions import BaseHasAPIKey, KeyParser

from . import rules
from .models import Completion, ProviderToken
from .services import CompletionIn, CompletionNotFound, ProviderError, completion_retract, completions_post
from .tokens import provider_token_find

REALM = "MyACSM provider API"


# Authentication, permission, throttle --------------------------------------------------------------------------

class BearerKeyParser(KeyParser):
    """The token from ``Authorization: Bearer <token>``."""

    keyword = "Bearer"


class ProviderTokenAuthentication(BaseAuthentication):
    """Finds the provider's token from ``Authorization: Bearer <token>`` (``request.auth``; ``request.user`` is
    anonymous: a session is never looked at). No such header: not authenticated (401 from ``HasProviderToken``);
    an unknown, malformed, revoked or expired token: 401."""

    key_parser = BearerKeyParser()

    def authenticate(self, request):
        key = self.key_parser.get(request)
        if key is None:
            return None
        token = provider_token_find(key.strip())
        if token is None:
            raise AuthenticationFailed("The token is not valid: unknown, revoked or expired.")
        return AnonymousUser(), token

    def authenticate_header(self, request) -> str:
        return f'Bearer realm="{REALM}"'


class HasProviderToken(BaseHasAPIKey):
    """The request carries a valid provider token (found by ``ProviderTokenAuthentication``, which has checked it
    against its hash already) of an active provider. Without one: 401; an inactive provider: 403."""

    model = ProviderToken
    key_parser = BearerKeyParser()
    message = "This provider may not use the API: it is not active."

    def has_permission(self, request, view) -> bool:
        token = request.auth
        return isinstance(token, ProviderToken) and token.provider.active


class ProviderTokenThrottle(SimpleRateThrottle):
    """``settings.PROVIDER_API_RATE`` requests (such as "120/min") per token, counted in the cache under the
    token's prefix. The rate is read at each request, not when the class is defined."""

    scope = "provider_token"

    def get_rate(self) -> str:
        return settings.PROVIDER_API_RATE

    def get_cache_key(self, request, view) -> str | None:
        token = request.auth
        if not isinstance(token, ProviderToken):
            return None
        return self.cache_format % {"scope": self.scope, "ident": token.prefix}


class ProviderTokenScheme(OpenApiAuthenticationExtension):
    """The schema's security scheme for ``ProviderTokenAuthentication``: HTTP bearer."""

    target_class = ProviderTokenAuthentication
    name = "ProviderToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A provider API token (prefix.secret), made in the staff admin or by "
                               "`manage.py create_provider_token --provider NUMBER`."}


class LenientJSONParser(JSONParser):
    """JSON, reading ``NaN`` and ``Infinity`` as numbers so that the field they stand in is refused with its own
    message (``cecs``) rather than the whole request."""

    strict = False

    def parse(self, stream, media_type=None, parser_context=None):
        """As JSON's, but a body nested too deep for the parser (``[[[[…``) is a 400 like any malformed one."""
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None


# Serializers ---------------------------------------------------------------------------------------------------

class CompletionInSerializer(serializers.Serializer):
    """One completion as a provider posts it."""

    member_id = serializers.CharField(max_length=40, help_text="The certificant's member ID.")
    last_name = serializers.CharField(max_length=150, help_text="The certificant's last name (case, accents and "
                                                                "spaces are ignored).")
    course_number = serializers.CharField(max_length=40, help_text="One of this provider's approved courses.")
    completed_on = serializers.DateField(input_formats=["%Y-%m-%d"], help_text="YYYY-MM-DD",
                                         error_messages={"invalid": "Give the date as YYYY-MM-DD."})
    external_id = serializers.CharField(max_length=100, help_text="The provider's own ID for this completion: "
                                                                  "posting it again changes nothing.")
    cecs = serializers.DecimalField(
        max_digits=6, decimal_places=2, required=False, allow_null=True,
        help_text="CECs granted; the course's approved CECs when left out. At most those.",
        error_messages={"invalid": "Give CECs as a number such as 1.5.",
                        "max_decimal_places": "CECs have at most two decimal places.",
                        "max_digits": "CECs have at most 6 digits.",
                        "max_whole_digits": "CECs have at most 4 digits before the decimal point."},
    )

    def completion_in(self) -> CompletionIn:
        data = self.validated_data
        return CompletionIn(member_id=data["member_id"], last_name=data["last_name"],
                            course_number=data["course_number"], completed_on=data["completed_on"],
                            external_id=data["external_id"], cecs=data.get("cecs"))


class CompletionBatchSerializer(serializers.Serializer):
    """Several completions at once (each is parsed on its own: see `CompletionIn`)."""

    completions = serializers.ListField(child=CompletionInSerializer(), min_length=1, max_length=rules.BATCH_LIMIT)


class CompletionSerializer(serializers.ModelSerializer):
    """A completion as the API gives it back (the same for a retry of the same external ID)."""

    member_id = serializers.CharField(source="user.member_id", read_only=True)
    course_number = serializers.CharField(source="course.number", read_only=True)
    course_title = serializers.CharField(source="course.title", read_only=True)
    posted_at = serializers.DateTimeField(source="created_at", read_only=True, default_timezone=dt_timezone.utc)
    retracted_at = serializers.DateTimeField(read_only=True, default_timezone=dt_timezone.utc)

    class Meta:
        model = Completion
        fields = ["external_id", "member_id", "course_number", "course_title", "completed_on", "cecs", "state",
                  "via", "posted_at", "retracted_at", "retraction_reason"]
        read_only_fields = fields


class ItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The item's place in the request, from 0.")
    external_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["accepted", "duplicate", "rejected"])
    completion = CompletionSerializer(allow_null=True, help_text="Null when rejected.")
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Field → messages; empty unless rejected.")


class PostResultSerializer(serializers.Serializer):
    accepted = serializers.IntegerField()
    duplicate = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = ItemResultSerializer(many=True)


class CompletionFilterSerializer(serializers.Serializer):
    """The list's filters (query parameters)."""

    completed_from = serializers.DateField(required=False, input_formats=["%Y-%m-%d"],
                                           error_messages={"invalid": "Give the date as YYYY-MM-DD."},
                                           help_text="Completed on or after (YYYY-MM-DD).")
    completed_to = serializers.DateField(required=False, input_formats=["%Y-%m-%d"],
                                         error_messages={"invalid": "Give the date as YYYY-MM-DD."},
                                         help_text="Completed on or before (YYYY-MM-DD).")
    course_number = serializers.CharField(required=False, max_length=40)
    state = serializers.ChoiceField(required=False, choices=Completion.State.choices)

    def validate(self, attrs):
        start, end = attrs.get("completed_from"), attrs.get("completed_to")
        if start and end and end < start:
            raise ValidationError({"completed_to": ["Give a date on or after completed_from."]})
        return attrs


class RetractSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500, error_messages={
        "required": "Give the reason for the retraction.", "blank": "Give the reason for the retraction.",
        "null": "Give the reason for the retraction."})


class FieldErrorsSerializer(serializers.Serializer):
    """Errors as ``{field: [message, ...]}`` (documentation only)."""


class FieldErrorsSchema(OpenApiSerializerExtension):
    """``FieldErrorsSerializer`` in the schema: an object of field names to lists of messages."""

    target_class = FieldErrorsSerializer

    def get_name(self, auto_schema, direction):
        return "FieldErrors"

    def map_serializer(self, auto_schema, direction):
        return {"type": "object", "description": "Field → messages.",
                "additionalProperties": {"type": "array", "items": {"type": "string"}}}


Detail = inline_serializer("Detail", {"detail": serializers.CharField()})
REFUSALS = {
    401: OpenApiResponse(Detail, description="No token, or one unknown, revoked or expired."),
    403: OpenApiResponse(Detail, description="The provider is not active."),
    429: OpenApiResponse(Detail, description="Too many requests with this token; see Retry-After."),
}


# Views ---------------------------------------------------------------------------------------------------------

class CompletionPages(PageNumberPagination):
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = rules.BATCH_LIMIT


class ProviderAPIMixin:
    """What every provider API view shares: token authentication (no session), active provider, throttle per
    token, JSON only, answers never stored by a cache."""

    authentication_classes = [ProviderTokenAuthentication]
    permission_classes = [HasProviderToken]
    throttle_classes = [ProviderTokenThrottle]
    parser_classes = [LenientJSONParser]
    renderer_classes = [JSONRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        patch_cache_control(response, no_store=True, private=True)
        return response

    @property
    def token(self) -> ProviderToken:
        return self.request.auth

    @property
    def poster(self) -> str:
        """Who posted or retracted, as recorded: the token's prefix and name (never the token)."""
        return f"API token {self.token.prefix} ({self.token.name})"


def _messages(errors) -> dict[str, list[str]]:
    """DRF's errors of one item as ``{field: [message]}``."""
    if isinstance(errors, list):
        return {"non_field_errors": [str(e) for e in errors]}
    return {field: [str(m) for m in (messages if isinstance(messages, list) else [messages])]
            for field, messages in errors.items()}


def _external_id(raw) -> str:
    value = raw.get("external_id") if isinstance(raw, dict) else None
    return str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""


class CompletionsView(ProviderAPIMixin, GenericAPIView):
    serializer_class = CompletionSerializer
    pagination_class = CompletionPages

    def get_queryset(self):
        filters = CompletionFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        wanted = filters.validated_data
        completions = (Completion.objects.filter(provider_id=self.token.provider_id)
                       .select_related("course", "user").order_by("-created_at", "-id"))
        if "completed_from" in wanted:
            completions = completions.filter(completed_on__gte=wanted["completed_from"])
        if "completed_to" in wanted:
            completions = completions.filter(completed_on__lte=wanted["completed_to"])
        if "course_number" in wanted:
            completions = completions.filter(course__number=wanted["course_number"].strip())
        if "state" in wanted:
            completions = completions.filter(state=wanted["state"])
        return completions

    @extend_schema(
        operation_id="completions_list",
        summary="This provider's completions",
        description="Newest posted first, 100 a page (`page_size` up to 1,000).",
        parameters=[CompletionFilterSerializer],
        responses={200: CompletionSerializer(many=True),
                   400: OpenApiResponse(FieldErrorsSerializer, description="A filter is not valid."),
                   404: OpenApiResponse(Detail, description="No such page."), **REFUSALS},
    )
    def get(self, request):
        """This provider's completions, newest posted first, a page at a time."""
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        operation_id="completions_post",
        summary="Post one completion or a batch",
        description=(
            f"One completion object, or `{{\"completions\": [...]}}` with up to {rules.BATCH_LIMIT:,}. Each item is "
            "accepted, a duplicate (its external ID was posted before: the first completion comes back, unchanged) "
            "or rejected with `errors` (field → messages); good items are kept whatever the bad ones. "
            "201 when at least one completion was made, 200 when none was but at least one item was a duplicate, "
            "400 when every item was rejected (the same body)."),
        request=PolymorphicProxySerializer("CompletionsPost", [CompletionInSerializer, CompletionBatchSerializer],
                                           resource_type_field_name=None),
        responses={
            201: OpenApiResponse(PostResultSerializer, description="At least one completion was made."),
            200: OpenApiResponse(PostResultSerializer, description="Nothing new: duplicates (and rejections)."),
            400: OpenApiResponse(
                PolymorphicProxySerializer("CompletionsRefused", [PostResultSerializer, FieldErrorsSerializer],
                                           resource_type_field_name=None),
                description="Every item rejected (the results), or a request that is not completions "
                            "(field → messages)."),
            415: OpenApiResponse(Detail, description="Not JSON."),
            **REFUSALS,
        },
    )
    def post(self, request):
        """Post the completions in the body (see the module's docstring for the answer)."""
        items = self._items(request.data)
        results: list[dict | None] = [None] * len(items)
        parsed, places = [], []
        for index, raw in enumerate(items):
            item = CompletionInSerializer(data=raw)
            if item.is_valid():
                parsed.append(item.completion_in())
                places.append(index)
            else:
                results[index] = {"index": index, "external_id": _external_id(raw), "status": "rejected",
                                  "completion": None, "errors": _messages(item.errors)}
        if parsed:
            try:
                posted = completions_post(provider_id=self.token.provider_id, items=parsed,
                                          via=Completion.Via.API, posted_by=self.poster)
            except ProviderError as error:
                raise PermissionDenied(error.message) from error
            # Duplicates come back with their course; their certificants are loaded in one query for all.
            prefetch_related_objects([r.completion for r in posted if r.status == "duplicate"], "user")
            first = {}  # external ID -> the index of the item that was accepted with it
            for place, result in zip(places, posted):
                errors = {field: [message] for field, message in result.errors.items()}
                if result.status == "accepted":
                    first[result.external_id] = place
                elif "external_id" in errors and result.external_id in first:
                    # The service numbers the items it was given; the request's own index is the one to name.
                    errors["external_id"] = [
                        f"Repeats the external ID of the item at index {first[result.external_id]}."]
                results[place] = {
                    "index": place, "external_id": result.external_id, "status": result.status,
                    "completion": CompletionSerializer(result.completion).data if result.completion else None,
                    "errors": errors,
                }
        counts = {key: sum(r["status"] == key for r in results) for key in ("accepted", "duplicate", "rejected")}
        code = (status.HTTP_201_CREATED if counts["accepted"] else status.HTTP_200_OK if counts["duplicate"]
                else status.HTTP_400_BAD_REQUEST)
        return Response({**counts, "results": results}, status=code)

    @staticmethod
    def _items(data) -> list:
        """The items of a body: one object, or the list under ``completions``. Raises ``ValidationError``."""
        if isinstance(data, dict) and "completions" in data:
            items = data["completions"]
            if not isinstance(items, list):
                raise ValidationError({"completions": ["Give the completions as a list."]})
        elif isinstance(data, dict):
            items = [data]
        else:
            raise ValidationError({"non_field_errors": [
                'Send one completion as an object, or several as {"completions": [...]}.']})
        if not items:
            raise ValidationError({"completions": ["Send at least one completion."]})
        if len(items) > rules.BATCH_LIMIT:
            raise ValidationError({"completions": [
                f"At most {rules.BATCH_LIMIT:,} completions at a time; this had {len(items):,}."]})
        return items


class CompletionView(ProviderAPIMixin, APIView):

    @extend_schema(
        operation_id="completion_retract",
        summary="Retract a completion",
        description=(f"Within {rules.RETRACT_DAYS} days of posting: the credit leaves the certificant's ledger; the "
                     "completion stays, retracted, with the reason. Give the reason as `?reason=` or in a JSON body "
                     "`{\"reason\": \"...\"}`. Retracting it again returns it unchanged."),
        parameters=[
            OpenApiParameter("external_id", str, OpenApiParameter.PATH, description="The external ID it was "
                                                                                    "posted with."),
            OpenApiParameter("reason", str, OpenApiParameter.QUERY, required=False,
                             description="Why (up to 500 characters), unless given in the body."),
        ],
        request=None,
        responses={
            200: CompletionSerializer,
            400: OpenApiResponse(FieldErrorsSerializer, description="No reason, or one too long."),
            404: OpenApiResponse(Detail, description="No such completion of this provider."),
            409: OpenApiResponse(Detail, description=f"Posted more than {rules.RETRACT_DAYS} days ago."),
            **REFUSALS,
        },
    )
    def delete(self, request, external_id: str):
        """Retract this provider's completion ``external_id`` (see the module's docstring for the answers)."""
        given = request.data if isinstance(request.data, dict) and "reason" in request.data else request.query_params
        reason = RetractSerializer(data={"reason": given.get("reason")})
        reason.is_valid(raise_exception=True)
        try:
            completion = completion_retract(provider_id=self.token.provider_id, external_id=external_id,
                                            reason=reason.validated_data["reason"], by=self.poster)
        except CompletionNotFound as error:
            raise NotFound(error.message) from error
        except ProviderError as error:
            if error.field:
                raise ValidationError({error.field: [error.message]}) from error
            return Response({"detail": error.message}, status=status.HTTP_409_CONFLICT)
        completion = (Completion.objects.select_related("course", "user").get(pk=completion.pk))
        return Response(CompletionSerializer(completion).data)


class DocsView(SpectacularSwaggerSplitView):
    """The API's documentation page (Swagger UI from drf-spectacular-sidecar, served from this site's static
    files; its start-up script from this view, ``?script``): no inline code, no other site."""

    template_name = "providers/api_docs.html"
    url_name = "api:schema"
