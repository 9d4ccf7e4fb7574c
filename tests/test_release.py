"""The cache key prefix follows the code: a release never serves what the previous one rendered."""

import shutil
from pathlib import Path

from django.conf import settings

from acsm_portal.release import code_fingerprint

ROOT = Path(__file__).resolve().parent.parent


def copy_of_the_portal(tmp_path: Path) -> Path:
    for app in ("acsm_portal", "accounts", "cecs", "certifications", "cart", "payments", "templates"):
        shutil.copytree(ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "README.md").write_text("notes")
    return tmp_path


def test_the_fingerprint_changes_with_a_template_or_code_and_nothing_else(tmp_path):
    root = copy_of_the_portal(tmp_path)
    first = code_fingerprint(root)
    assert len(first) == 12 and int(first, 16) >= 0
    assert code_fingerprint(root) == first

    (root / "README.md").write_text("other notes")
    assert code_fingerprint(root) == first

    board = root / "templates" / "certifications" / "dashboard.html"
    board.write_text(board.read_text().replace("Complete Recertification", "Complete Recertification now"))
    second = code_fingerprint(root)
    assert second != first

    selectors = root / "certifications" / "selectors.py"
    selectors.write_text(selectors.read_text() + "\n# changed\n")
    assert code_fingerprint(root) not in (first, second)


def test_the_test_run_has_its_own_prefix():
    assert settings.CACHES["default"]["KEY_PREFIX"].startswith("test-")
