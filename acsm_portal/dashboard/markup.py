"""The dashboard's repeated parts as HTML: the certification tiles and the rows of the Active CECs table.

They are written here rather than in ``certifications/dashboard.html``, which holds the page around them: a
template spends a few microseconds on every variable and tag, which came to a third of the page for four tiles
and to most of it for a few hundred credits; formatting strings here costs a tenth of that. Every text is
escaped; URLs are built once per page by ``reverse`` and hold only numbers besides.
"""

from datetime import date
from html import escape

from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from acsm_portal.formats import format_date
from cecs.rules import format_cecs
from certifications.rules import CprState, Status
from certifications.selectors import Tile

from .audit_tile import audit_tile_html
from .selectors import LedgerRow

TILE = """
  <div class="col-12 col-md-6 col-xl-4">
    <section class="box tile h-100" id="tile-{id}" aria-labelledby="tile-{id}-title" data-certification="{code}">
      <h2 class="tile-title" id="tile-{id}-title">{name}</h2>
      <div class="d-flex flex-column flex-sm-row gap-3 align-items-center">
        <figure class="speedometer mb-0" role="img" aria-label="{name}: {percent}% complete, {meter} CECs">
          <svg viewBox="0 0 200 115" aria-hidden="true" focusable="false">
            <path class="speedometer-track" d="M 20 100 A 80 80 0 0 1 180 100" pathLength="100"></path>
            <path class="speedometer-fill{full}" d="M 20 100 A 80 80 0 0 1 180 100" pathLength="100"
                  stroke-dasharray="{percent} 100"></path>
            <text x="100" y="82" text-anchor="middle" class="speedometer-percent">{percent}%</text>
            <text x="100" y="106" text-anchor="middle" class="speedometer-count">{meter}</text>
          </svg>
        </figure>
        <dl class="tile-facts mb-0">
          <dt class="visually-hidden">Cycle</dt><dd class="tile-cycle">{cycle}</dd>
          <dt class="visually-hidden">Status</dt>
          <dd class="tile-status status-{status_class}">{status}</dd>
          {deadline}
          <dt class="visually-hidden">CPR</dt>
          <dd class="tile-cpr cpr-{cpr_class}">{cpr}</dd>
        </dl>
      </div>
      {audit}
      <p class="tile-total mt-3 mb-2"><span class="fw-semibold">Total CECs</span> <span class="fs-4 ms-2">{total}</span></p>
      {hint}
      <a class="btn btn-outline-primary btn-sm tile-cpr-upload" href="{upload_url}">Upload CPR Certificate<span class="visually-hidden"> for {name}</span></a>
      {certificate}
      <div class="tile-actions mt-3">
        {actions}
      </div>
    </section>
  </div>
"""
DEADLINE = {
    Status.IN_PROCESS: '<dd class="small tile-deadline">Renew by {end} at 11:59 PM {zone}; after that a ${late_fee} '
                       'late fee applies.</dd>',
    Status.GRACE: '<dd class="small tile-deadline">Your cycle ended {end}. You can still renew until {grace_ends} at '
                  '11:59 PM {zone}, with a ${late_fee} late fee.</dd>',
    Status.RENEWED: '<dd class="small">Thank you for renewing. Your next cycle starts {start}; CECs earned from then on '
                    'count toward it.</dd>',
    Status.LAPSED: '<dd class="small">This certification lapsed after the grace period ended on {grace_ends} at 11:59 PM '
                   '{zone}. Please contact the certification department about reinstatement.</dd>',
}
CPR = {
    CprState.PENDING: "CPR Certificate Submitted – pending review",
    CprState.APPROVED: "CPR Certificate Approved",
    CprState.REJECTED: "CPR Certificate Rejected: {reason}",
    CprState.NOT_UPLOADED: "CPR Certificate Not Uploaded",
}
CPR_NOTE = '<span class="tile-cpr-note">Card {when} {expires_on}</span>'
HINT = ('<p class="tile-hint small text-body-secondary mb-0">The Renew button will appear when all credits are '
        'submitted and your updated CPR Certificate is uploaded.</p>')
# A suspended certification's tile says so instead of its deadline (the status line reads "Suspended").
SUSPENDED_NOTE = ('<dd class="small">This certification is suspended after a failed audit. The certification '
                  'department will tell you how to have it reinstated; until then it cannot be renewed.</dd>')

CERTIFICATE = """<a class="tile-certificate d-flex align-items-center gap-2 mt-3" href="{url}">
        <img src="{icon}" alt="" width="44" height="34">
        <span>Download your certificate<span class="d-block small text-body-secondary">No. {number} · valid through {valid_through}</span></span>
      </a>
      <a class="tile-badge d-inline-block small mt-1" href="{badge_url}">Open Badge<span class="visually-hidden"> of certificate No. {number}</span></a>"""
IN_CART = """<form method="post" action="{remove_url}" class="js-tile-action d-flex flex-wrap align-items-center gap-2">{csrf}
          {badge}
          <button type="submit" class="btn btn-remove" aria-label="Remove {code} renewal from cart"><span aria-hidden="true">✕</span></button>
          {late_fee}
        </form>
        {stale}"""
IN_CART_BADGE = '<span class="badge text-bg-success tile-in-cart">In cart</span>'
STALE_BADGE = '<span class="badge text-bg-warning tile-in-cart">In cart, cannot be renewed</span>'
STALE = '<p class="small tile-cart-stale mt-2 mb-0">{blockers} It will be taken out of your cart.</p>'
RENEW = """<form method="post" action="{renew_url}" class="js-tile-action">{csrf}
          <button type="submit" class="btn btn-renew">RENEW<span class="visually-hidden"> {name}</span></button>
          {late_fee}
        </form>"""


def tiles_html(tiles: list[Tile], *, today: date, zone_label: str, csrf_token: str,
               audits: dict | None = None) -> SafeString:
    """Each of ``tiles`` as the dashboard shows it: the speedometer, the cycle, its status and deadline (in
    ``zone_label``'s time, e.g. "Eastern time"), the CPR line (a card expired before ``today`` says so), the total,
    the certificate to download, and RENEW or the cart's Remove button (forms carrying ``csrf_token``); the latest
    audit of a certification in ``audits`` (by certification id, ``audit_tile.audit_tile_html``)."""
    csrf = f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(csrf_token)}">'
    zone = escape(zone_label)
    upload_url, renew_url, remove_url = (reverse(name, args=[0]) for name in ("cpr_maintenance", "cart_renew",
                                                                               "cart_remove"))
    out = []
    for tile in tiles:
        id_part = f"/{tile.certification_id}/"
        name, code = escape(tile.name), escape(tile.code)
        eligibility, cpr = tile.eligibility, tile.cpr
        late_fee = f"{tile.late_fee}"
        if tile.in_cart:
            actions = IN_CART.format(
                remove_url=remove_url.replace("/0/", id_part), csrf=csrf, code=code,
                badge=IN_CART_BADGE if eligibility.can_renew else STALE_BADGE,
                late_fee=f'<span class="small">A ${late_fee} late fee applies.</span>'
                if eligibility.can_renew and eligibility.late else "",
                stale="" if eligibility.can_renew else STALE.format(blockers=escape(" ".join(eligibility.blockers))),
            )
        elif eligibility.can_renew:
            actions = RENEW.format(
                renew_url=renew_url.replace("/0/", id_part), csrf=csrf, name=name,
                late_fee=f'<span class="small ms-2">A ${late_fee} late fee applies.</span>' if eligibility.late else "",
            )
        else:
            actions = ""
        cpr_text = CPR[cpr.state].format(reason=escape(cpr.reason))
        if cpr.expires_on and cpr.state is not CprState.REJECTED:
            cpr_text += CPR_NOTE.format(when="expired" if cpr.expires_on < today else "valid through",
                                        expires_on=format_date(cpr.expires_on))
        certificate = ""
        if tile.certificate_number:
            certificate = CERTIFICATE.format(
                url=escape(reverse("certificate_download", args=[tile.certificate_number])),
                badge_url=escape(reverse("badge_download", args=[tile.certificate_number])),
                icon=escape(static("img/certificate.svg")), number=escape(tile.certificate_number),
                valid_through=format_date(tile.certificate_valid_through),
            )
            if tile.suspended:
                certificate = certificate.replace("Download your certificate<", "Download your certificate (marked "
                                                  "suspended)<", 1)
        out.append(TILE.format(
            id=tile.certification_id, code=code, name=name,
            percent=tile.meter.percent, meter=tile.meter.label, full=" is-full" if tile.meter.full else "",
            cycle=escape(tile.cycle_label), status_class=tile.status.name.lower(), status=escape(tile.status_label),
            deadline=SUSPENDED_NOTE if tile.suspended else DEADLINE[tile.status].format(
                start=format_date(tile.cycle_start), end=format_date(tile.cycle_end),
                grace_ends=format_date(tile.grace_ends), zone=zone, late_fee=late_fee),
            cpr_class=cpr.state.value, cpr=cpr_text,
            total=format_cecs(tile.meter.total),
            hint=HINT if not eligibility.can_renew and not tile.suspended
            and tile.status not in (Status.LAPSED, Status.RENEWED) else "",
            upload_url=upload_url.replace("/0/", id_part),
            certificate=certificate,
            actions=actions,
            audit=audit_tile_html(audits.get(tile.certification_id)) if audits else "",
        ))
    return mark_safe("".join(out))


# One line per row: a ledger may hold hundreds, and indentation would be a tenth of the page.
ROW = ('<tr{row_class}><td data-label="Date Earned">{earned}</td><td data-label="Date Reported">{reported}</td>'
       '<td data-label="CECs Earned" class="text-md-end">{cecs}</td>'
       '<td data-label="Course Name" class="course">{course}{provider} {notes}</td>'
       '<td data-label="Format">{format_label}</td><td data-label="Credit Type">{credit_label}</td>'
       '<td class="text-nowrap actions">{actions}</td></tr>\n')
PROVIDER = '<div class="small text-body-secondary">{}</div>'
REPORTED_BY = '<div class="small text-body-secondary reported-by">Reported by {}</div>'
NOTE = '<div class="small cec-note"><span aria-hidden="true">⚠</span> {}</div>'
ACTIONS = (' <a href="{edit}" class="btn btn-link btn-sm p-0 me-2">Edit<span class="visually-hidden"> {course}</span></a>'
           ' <a href="{delete}" class="btn btn-link btn-sm p-0 text-danger">Delete<span class="visually-hidden"> {course}'
           '</span></a> ')


def ledger_rows_html(rows: list[LedgerRow]) -> SafeString:
    """The ``<tr>`` of each of ``rows``, in order: the date earned and reported, CECs, course name with its provider
    ("Reported by …" for a credit a provider reported) and the notes on why it counts in part or not at all (the
    row is then ``class="not-counted"``), format, credit type, and Edit and Delete links when the person may change
    it."""
    out = []
    escaped: dict[str, str] = {}  # course names, providers, labels and notes repeat from row to row

    def esc(text: str) -> str:
        found = escaped.get(text)
        if found is None:
            found = escaped[text] = escape(text)
        return found

    for row in rows:
        course = esc(row.course_name)
        out.append(ROW.format(
            row_class=' class="not-counted"' if row.notes else "",
            earned=row.earned,
            reported=row.reported,
            cecs=row.cecs,
            course=course,
            provider=(REPORTED_BY.format(esc(row.reported_by)) if row.reported_by
                      else PROVIDER.format(esc(row.provider)) if row.provider else ""),
            notes="".join([NOTE.format(esc(note)) for note in row.notes]) if row.notes else "",
            format_label=esc(row.format_label),
            credit_label=esc(row.credit_label),
            actions=ACTIONS.format(edit=row.edit_url, delete=row.delete_url, course=course) if row.edit_url else "",
        ))
    return mark_safe("".join(out))
