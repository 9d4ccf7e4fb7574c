"""Settings for ``scripts/bench_pages.py``: the real settings plus the benchmark's floor (``scripts/bench_urls.py``).

The benchmark sets the environment (its database, production mode) before this module is imported; its cache
keys carry a prefix of their own, so it can empty them without touching anyone else's.
"""

import os

from acsm_portal.settings import *  # noqa: F403

ROOT_URLCONF = "scripts.bench_urls"
CACHES["default"]["KEY_PREFIX"] = os.environ.get("BENCH_CACHE_PREFIX", "bench")  # noqa: F405
