"""Certificate PDF render time (WeasyPrint), median of 20 renders in one warm process.

Usage: .venv/bin/python scripts/bench_certificate.py
"""

import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "acsm_portal.settings")

import django  # noqa: E402

django.setup()

from acsm_portal import clock  # noqa: E402
from certifications.certificates import certificate_pdf  # noqa: E402


def main(runs: int = 20) -> None:
    today = clock.today()
    certificate = SimpleNamespace(number=f"CPT-{today.year + 1}-482913", holder_name="Casey Morgan",
                                  certification_name="Certified Personal Trainer",
                                  issued_on=today, valid_through=date(today.year + 3, 12, 31),
                                  verify_code="uPtTFfI0OuKaIlxx")
    certificate_pdf(certificate=certificate)  # warm up fonts and caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        data = certificate_pdf(certificate=certificate)
        times.append((time.perf_counter() - start) * 1000)
    print(f"certificate PDF: median {statistics.median(times):.0f} ms, min {min(times):.0f} ms, "
          f"max {max(times):.0f} ms over {runs} renders, {len(data) / 1024:.1f} KB")


if __name__ == "__main__":
    main()
