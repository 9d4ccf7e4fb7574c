"""Settings for ``scripts/bench_dashboard.py``: the real settings plus a trivial view to compare against.

The benchmark sets the environment (database ``acsm_bench``, DEBUG off) before
this module is imported.
"""

from acsm_portal.settings import *  # noqa: F403

ROOT_URLCONF = "scripts.bench_urls"
