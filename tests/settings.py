"""Settings of the test run: the hub's own, with test defaults put in the environment first.

Tests get their own data folder (so an embedded Redis for tests never touches the demo's) and
throwaway keys; DATABASE_URL and REDIS_URL from the environment are honoured, which is how CI runs
the suite on PostgreSQL and the machine's Redis.
"""

import os
from pathlib import Path

os.environ.setdefault("HUB_DATA_DIR", str(Path(__file__).parents[1] / "data" / "test"))
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("FERNET_KEYS", "tests-only-fernet-key")
os.environ.setdefault("DEBUG", "false")
# A burst worker (tests/helpers.run_worker) would wait this long after each partition's last event;
# the lingering drainer has its own tests, and the faults test's workers linger.
os.environ.setdefault("HUB_DRAIN_LINGER", "0")

from hub.settings import *  # noqa: E402,F403

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's in-memory default: the live server's threads and the worker write at
    # the same time, and only a file database waits for a lock (WAL + busy timeout) like production.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405
