"""A fingerprint of the portal's code and templates, to start each release with its own cache keys."""

import hashlib
from pathlib import Path

APPS = ("acsm_portal", "accounts", "cecs", "certifications", "cart", "payments")


def code_fingerprint(root: Path) -> str:
    """Twelve hex digits that change whenever a Python file of the apps or a template changes.

    Used as the cache key prefix: pages and fragments rendered by the previous release are
    never served by this one (sessions fall back to the database, users to a query).
    """
    digest = hashlib.sha256()
    files = [p for app in APPS for p in (root / app).rglob("*.py")] + list((root / "templates").rglob("*.html"))
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
