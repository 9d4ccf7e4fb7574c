"""The CPR/AED card review queue in the staff admin."""

import html
import io
import json

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.templatetags.admin_list import result_headers
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.core.exceptions import PermissionDenied
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from .forms import CprRejectForm
from ..models import CprUpload, CprUploadFile
from .selectors import cpr_file_facts, cpr_queue_rows, cpr_queue_search, cpr_review_queue
from .services import REVIEW_PERMISSION, CprError, cpr_file_preview, cpr_upload_approve, cpr_upload_reject
from acsm_portal.files import file_response
from acsm_portal.formats import format_date
from acsm_portal.uploads import ACTIVE_CONTENT_REFUSALS, JPEG, PDF

KIND_NAMES = {PDF: "PDF", JPEG: "JPEG image"}
EMPTY = "-"  # the admin's empty value


class CprStatusFilter(admin.SimpleListFilter):
    """The review queue opens on cards waiting for review; staff can switch to the others."""

    title = "status"
    parameter_name = "status"
    default = CprUpload.State.PENDING

    def lookups(self, request, model_admin):
        return [
            (CprUpload.State.PENDING, "Submitted – pending review"),
            (CprUpload.State.APPROVED, "Approved"),
            (CprUpload.State.REJECTED, "Rejected"),
            ("all", "All"),
        ]

    def choices(self, changelist):
        current = self.value() or self.default
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value() or self.default
        return queryset if value == "all" else queryset.filter(state=value)


class CprQueuePaginator(Paginator):
    """Pages of the review queue, each cheap whatever the page and however many cards there are.

    The count is exact up to ``ESTIMATE_FROM`` cards (the pending queue; any search, which is always counted) and
    above it the planner's estimate to three significant digits ("All", "Approved": ``estimated`` is then True and
    the page says "about 119,000"), instead of counting 100,000 rows on every page view. A page's cards are found
    by their ids first (an index-only scan in queue order), so only those 50 rows are joined and have their files
    counted, on page 1 as on page 1,000.
    """

    ESTIMATE_FROM = 10_000  # cards; counting this many is a short index-only scan

    def __init__(self, object_list: QuerySet, per_page: int, *, exact: bool = False, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.exact = exact
        self.estimated = False

    @cached_property
    def count(self) -> int:
        if self.exact:
            return self.object_list.count()
        # In queue order, so it reads the queue's index up to the threshold and stops.
        counted = self.object_list.values("pk")[: self.ESTIMATE_FROM].count()
        if counted < self.ESTIMATE_FROM:
            return counted
        planned = _planned_rows(self.object_list)
        if planned < self.ESTIMATE_FROM:  # the statistics are behind: count it all
            return self.object_list.count()
        self.estimated = True
        return round(planned, 3 - len(str(planned)))  # three significant digits: 118,852 is "about 119,000"

    def validate_number(self, number) -> int:
        if not (self.count and self.estimated):
            return super().validate_number(number)
        try:  # an estimate may be short or long by a page or two: any page past it is shown, empty if need be
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        return number

    def page(self, number):
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        ids = self.object_list.values("pk")[bottom:bottom + self.per_page]
        return self._get_page(self.object_list.filter(pk__in=ids), number, self)


def _planned_rows(queryset: QuerySet) -> int:
    """How many rows Postgres expects ``queryset`` to return (EXPLAIN, nothing run); 0 on another database."""
    if connections[queryset.db].vendor != "postgresql":
        return 0
    plan = queryset.values("pk").order_by().explain(format="json")
    return int(json.loads(plan)[0]["Plan"]["Plan Rows"])


class CprQueueChangeList(ChangeList):
    """The queue's list page. Its rows are written out in one pass over plain values (``cpr_queue_rows``, one
    query), cell for cell as the admin writes them, instead of through the admin's lookups for each of 500 cells
    and a form widget template for each checkbox: the page costs about what its chrome costs."""

    def get_results(self, request):
        super().get_results(request)
        self.result_list = cpr_queue_rows(self.result_list)

    @cached_property
    def queue_headers(self) -> list[dict]:
        return list(result_headers(self))

    @cached_property
    def queue_sorted_fields(self) -> int:
        return sum(1 for h in self.queue_headers if h["sortable"] and h["sort_priority"] > 0)

    @property
    def queue_count_text(self) -> str:
        """"3,531 CPR card uploads", or "about 119,000 CPR card uploads" for an estimate."""
        count = self.result_count
        noun = self.opts.verbose_name if count == 1 else self.opts.verbose_name_plural
        return f"{'about ' if self.paginator.estimated else ''}{count:,} {noun}"

    @cached_property
    def queue_rows(self) -> list[str]:
        """Each row's ``<tr>``, its cells in ``list_display`` order."""
        row = "<tr>" + "".join(QUEUE_CELLS[column] for column in self.list_display) + "</tr>"
        changelist = reverse("admin:certifications_cprupload_changelist")
        preserved = f"?{self.preserved_filters}" if self.preserved_filters else ""  # already "_changelist_filters=…"
        return [mark_safe(row.format(**_queue_values(values, f"{changelist}{values['pk']}/change/{preserved}")))
                for values in self.result_list]


# The queue's cells as the admin writes them, filled with escaped values from _queue_values.
QUEUE_CELLS = {
    "action_checkbox": f'<td class="action-checkbox"><input type="checkbox" name="{helpers.ACTION_CHECKBOX_NAME}" '
                       'value="{pk}" class="action-select" '
                       'aria-label="Select the CPR card of {name} ({member_id})"></td>',
    "submitted_at": '<th class="field-submitted_at nowrap"><a href="{url}">{submitted_at}</a></th>',
    "member_id": '<td class="field-member_id"><a href="{url}">{member_id}</a></td>',
    "member": '<td class="field-member">{name} &lt;{email}&gt;</td>',
    "certification_type": '<td class="field-certification_type">{certification_code}</td>',
    "card_type": '<td class="field-card_type">{card_type}</td>',
    "expires_on": '<td class="field-expires_on nowrap">{expires_on}</td>',
    "file_count": '<td class="field-file_count">{file_count}</td>',
    "state": '<td class="field-state">{state}</td>',
    "reviewed_by": '<td class="field-reviewed_by nowrap">{reviewed_by}</td>',
}
STATE_LABELS = dict(CprUpload.State.choices)
CARD_TYPE_LABELS = dict(CprUpload.CardType.choices)


def _queue_values(row: dict, url: str) -> dict[str, str]:
    """One ``cpr_queue_rows`` row as the HTML-escaped texts ``QUEUE_CELLS`` show; dates on the portal's pattern,
    times on the reviewer's clock."""
    submitted = timezone.localtime(row["submitted_at"])
    reviewer = row["reviewer_email"] and (
        f"{row['reviewer_first_name']} {row['reviewer_last_name']}".strip() or row["reviewer_email"])
    texts = {
        "pk": row["pk"],
        "url": url,
        "name": f"{row['first_name']} {row['last_name']}".strip(),
        "member_id": row["member_id"],
        "email": row["email"],
        "submitted_at": f"{format_date(submitted)} {submitted:%-I:%M %p}",
        "certification_code": row["certification_code"],
        "card_type": CARD_TYPE_LABELS.get(row["card_type"], EMPTY),
        "expires_on": format_date(row["expires_on"]) if row["expires_on"] else EMPTY,
        "file_count": row["file_count"],
        "state": STATE_LABELS[row["state"]],
        "reviewed_by": reviewer or EMPTY,
    }
    return {key: html.escape(str(text)) for key, text in texts.items()}


@admin.register(CprUpload)
class CprUploadAdmin(admin.ModelAdmin):
    list_display = (
        "submitted_at", "member_id", "member", "certification_type", "card_type", "expires_on", "file_count", "state",
        "reviewed_by",
    )
    list_display_links = ("submitted_at", "member_id")
    list_filter = (CprStatusFilter, "certification__certification_type")
    search_fields = ("certification__user__member_id",)  # shows the search box; cpr_queue_search does the search
    search_help_text = "Member ID, email, or name (last name, or first and last)"
    ordering = ("submitted_at", "id")
    list_select_related = ("certification__user", "certification__certification_type", "reviewed_by")
    list_per_page = 50
    # The page counts only what the filter shows (CprQueuePaginator), not also every card ever submitted.
    show_full_result_count = False
    actions = ["approve_selected", "reject_selected"]
    fieldsets = (
        ("Certificant", {"fields": ("member", "member_id", "certification_type", "cycle")}),
        ("Card", {"fields": ("card_type", "issuing_organization", "expires_on", "skills_check_confirmed", "previews")}),
        ("Review", {"fields": ("state", "submitted_at", "reviewed_by", "reviewed_at", "rejection_reason",
                               "decision_emailed_at")}),
    )
    readonly_fields = (
        "member", "member_id", "certification_type", "cycle", "card_type", "issuing_organization", "expires_on",
        "skills_check_confirmed", "previews", "state", "submitted_at", "reviewed_by", "reviewed_at",
        "rejection_reason", "decision_emailed_at",
    )

    # Only reviewers see these identity documents; nobody adds, edits or deletes them here.
    class Media:
        css = {"all": ("css/cpr-admin.css",)}

    def has_review_permission(self, request) -> bool:
        return request.user.is_active and request.user.has_perm(REVIEW_PERMISSION)

    def has_view_permission(self, request, obj=None):
        return self.has_review_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return cpr_review_queue()

    def get_search_results(self, request, queryset, search_term):
        return cpr_queue_search(queryset, search_term), False

    def get_paginator(self, request, queryset, per_page, orphans=0, allow_empty_first_page=True):
        searching = bool(request.GET.get(SEARCH_VAR, "").strip())
        return CprQueuePaginator(queryset, per_page, exact=searching, orphans=orphans,
                                 allow_empty_first_page=allow_empty_first_page)

    def get_sortable_by(self, request):
        # Any column sorts the pending queue (a few thousand cards); a larger selection sorts by submission only,
        # the order its index gives, rather than sorting 100,000 joined rows for one page.
        if request.GET.get(CprStatusFilter.parameter_name, CprStatusFilter.default) == CprStatusFilter.default:
            return self.list_display
        return ("submitted_at",)

    def get_changelist(self, request, **kwargs):
        return CprQueueChangeList

    @admin.display(description="Member ID", ordering="certification__user__member_id")
    def member_id(self, obj):
        return obj.certification.user.member_id

    @admin.display(description="Member", ordering="certification__user__last_name")
    def member(self, obj):
        user = obj.certification.user
        return f"{user.get_full_name()} <{user.email}>"

    @admin.display(description="Certification", ordering="certification__certification_type__code")
    def certification_type(self, obj):
        return obj.certification.certification_type.code

    @admin.display(description="Files", ordering="file_count")
    def file_count(self, obj):
        return obj.file_count

    @admin.display(description="Files")
    def previews(self, obj):
        """Every file the certificant sent, each PDF page by page, with its name, kind, size, hash and download."""
        files = list(obj.files.all())
        if not files:
            return "No files."
        return mark_safe("".join(_file_preview(f) for f in files))

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:upload_id>/approve/", view(self.approve_view), name="certifications_cprupload_approve"),
            path("<int:upload_id>/reject/", view(self.reject_view), name="certifications_cprupload_reject"),
            path("files/<uuid:key>/preview/", view(self.preview_view), name="certifications_cprupload_preview"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra = {"can_review": self.has_review_permission(request), "reject_form": CprRejectForm()}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})

    # Decisions: the same services the site uses, one at a time or in bulk.
    def _decide(self, request, uploads, decide, verb: str) -> None:
        changed, repeated = 0, 0
        for upload in uploads:
            try:
                _, did = decide(upload)
            except CprError as exc:
                self.message_user(request, f"{_label(upload)}: {exc.message}", messages.ERROR)
                continue
            changed += did
            repeated += not did
        if changed:
            self.message_user(request, f"{verb.capitalize()} {changed} CPR card{'s' if changed != 1 else ''}; "
                                       "the certificant is emailed.", messages.SUCCESS)
        if repeated:
            self.message_user(request, f"{repeated} CPR card{'s were' if repeated != 1 else ' was'} already {verb}; "
                                       "nothing changed.", messages.INFO)

    @admin.action(description="Approve selected CPR cards", permissions=["review"])
    def approve_selected(self, request, queryset):
        self._decide(request, queryset, lambda u: cpr_upload_approve(upload=u, reviewer=request.user), "approved")

    @admin.action(description="Reject selected CPR cards (with a reason)…", permissions=["review"])
    def reject_selected(self, request, queryset):
        form = CprRejectForm(request.POST if "apply" in request.POST else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._decide(request, queryset,
                         lambda u: cpr_upload_reject(upload=u, reviewer=request.user, reason=reason), "rejected")
            return None
        return self._reject_page(request, list(queryset), form, bulk=True)

    def _reject_page(self, request, uploads, form, *, bulk: bool):
        context = {
            **self.admin_site.each_context(request),
            "title": "Reject CPR card" if len(uploads) == 1 else "Reject CPR cards",
            "opts": self.opts,
            "uploads": uploads,
            "form": form,
            "bulk": bulk,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/certifications/cprupload/reject.html", context)

    def _upload_or_404(self, request, upload_id: int) -> CprUpload:
        if not self.has_review_permission(request):
            raise PermissionDenied
        upload = self.get_queryset(request).filter(pk=upload_id).first()
        if upload is None:
            raise Http404("No such CPR card upload.")
        return upload

    def approve_view(self, request, upload_id: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        upload = self._upload_or_404(request, upload_id)
        self._decide(request, [upload], lambda u: cpr_upload_approve(upload=u, reviewer=request.user), "approved")
        return redirect("admin:certifications_cprupload_changelist")

    def reject_view(self, request, upload_id: int):
        upload = self._upload_or_404(request, upload_id)
        form = CprRejectForm(request.POST if request.method == "POST" else None)
        if form.is_bound and form.is_valid():
            reason = form.cleaned_data["reason"]
            self._decide(request, [upload],
                         lambda u: cpr_upload_reject(upload=u, reviewer=request.user, reason=reason), "rejected")
            return redirect("admin:certifications_cprupload_changelist")
        return self._reject_page(request, [upload], form, bulk=False)

    def preview_view(self, request, key):
        if not self.has_review_permission(request):
            raise PermissionDenied
        stored = (
            CprUploadFile.objects.exclude(upload__state=CprUpload.State.DRAFT).filter(key=key).first()
        )
        if stored is None:
            raise Http404("No such file.")
        try:
            page = int(request.GET.get("page", "1"))
        except ValueError:
            raise Http404("No such page.") from None
        preview = cpr_file_preview(stored=stored, page=page)
        if preview is None:
            raise Http404("No preview for this page; download the file instead.")
        data, content_type = preview
        return file_response(stored, as_attachment=False, content=io.BytesIO(data), content_type=content_type,
                             filename=f"preview-{stored.key.hex}-page{page}.{content_type.split('/')[1]}")


def _file_preview(stored: CprUploadFile) -> str:
    """One file on the review page: a heading line, a warning for a PDF that can do more than show its pages, and
    an image of every page (a PDF's pages rendered one by one; an image as itself)."""
    facts = cpr_file_facts(stored=stored)
    pages = max(facts.pages, 1)
    preview = reverse("admin:certifications_cprupload_preview", args=[stored.key])
    download = reverse("cpr_file_download", args=[stored.key])
    kind = KIND_NAMES.get(stored.content_type, "PNG image")
    if stored.content_type == PDF:
        kind = f"PDF, {pages} page{'s' if pages != 1 else ''}"
    head = format_html(
        '<p class="cpr-file-head"><strong>{}</strong> · {} · {} · SHA-256 {}… · <a href="{}">Download</a></p>',
        stored.original_name, kind, stored.size_label, stored.sha256[:12], download,
    )
    warning = format_html(
        '<p class="cpr-file-warning errornote">This PDF {} (it was uploaded before such PDFs were refused). Review it '
        "from the page images below and do not open the download in a PDF reader; if it is needed, ask the "
        "certificant for the card printed to a new PDF, or a photo of it.</p>",
        ACTIVE_CONTENT_REFUSALS[facts.active_content],
    ) if facts.active_content else ""
    if pages == 1:
        figures = format_html(
            '<figure class="cpr-preview"><a href="{}?page=1"><img src="{}?page=1" width="360" alt="Preview of {}" '
            'loading="lazy"></a></figure>',
            preview, preview, stored.original_name,
        )
    else:
        figures = format_html_join(
            "",
            '<figure class="cpr-preview"><a href="{}?page={}"><img src="{}?page={}" width="360" '
            'alt="Page {} of {} of {}" loading="lazy"></a><figcaption>Page {} of {}</figcaption></figure>',
            ((preview, n, preview, n, n, pages, stored.original_name, n, pages) for n in range(1, pages + 1)),
        )
    return format_html('<section class="cpr-file" aria-label="{}">{}{}<div class="cpr-pages">{}</div></section>',
                       stored.original_name, head, warning, figures)


def _label(upload: CprUpload) -> str:
    user = upload.certification.user
    return f"{user.get_full_name()} ({user.member_id}, {upload.certification.certification_type.code})"
