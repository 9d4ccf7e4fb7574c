"""Certificates for the status tests, with the dates a test needs (every date built from the clock)."""

from datetime import date
from itertools import count

from certifications.models import Certificate, Certification, Cycle
from tests.factories import certification_with_cycle

_numbers = count(100_001)


def certificate(user, *, valid_through: date, code: str = "CPT", certification: Certification | None = None,
                status: str = Certificate.Status.ACTIVE) -> Certificate:
    """A certificate of ``user``'s ``code`` certification valid through ``valid_through``, on a cycle of its own
    ending then, issued three years before; with ``certification``, a further (newer) certificate of it."""
    start = date(valid_through.year - 3, 1, 1)
    if certification is None:
        certification = certification_with_cycle(user, code, start, valid_through)
        cycle = certification.cycles.get()
    else:
        certification.cycles.filter(state=Cycle.State.OPEN).update(state=Cycle.State.RENEWED)
        cycle = Cycle.objects.create(certification=certification, start=start, end=valid_through)
    return Certificate.objects.create(
        certification=certification, cycle=cycle, number=f"{code}-{start.year}-{next(_numbers)}",
        holder_name=user.get_full_name(), certification_name=certification.certification_type.name,
        issued_on=start, valid_through=valid_through, status=status,
    )


def status_of(certificate_: Certificate) -> str:
    return Certificate.objects.values_list("status", flat=True).get(pk=certificate_.pk)


def moves(certificate_: Certificate) -> list[tuple[str, str, str, str]]:
    """The certificate's log: (from, to, actor, reason), oldest first."""
    return list(certificate_.log.values_list("from_status", "to_status", "actor", "reason"))
