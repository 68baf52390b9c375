"""Botyard settings: one module, every value from the environment (see config/env.py and .env.example).

With nothing set, Botyard runs on SQLite, a local-memory cache and inline Celery tasks, so a newcomer can start it
with one command. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY and FIELD_ENCRYPTION_KEY.
"""

import base64
import hashlib
from datetime import timedelta

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, env

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = "django-insecure-botyard-development-only-key-0123456789abcdefghijklmnopqrstuvwxyz"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://localhost:8000").rstrip("/")
GROUPME_API_URL = env.str("GROUPME_API_URL", default="https://api.groupme.com/v3").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "tenants",
    "bots",
    "groups",
    "analytics",
    "monetization",
]

MIDDLEWARE = [
    "config.observability.RequestIdMiddleware",
    "config.resilience.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
            ],
        },
    },
]

# --- Data -----------------------------------------------------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
    # Request-sized queries never repay JIT compilation; PostgreSQL's cost model still triggers it on some of the
    # dashboard's (13 ms of compiling for a 20 ms query, bench/dashboard.py). Off for every connection of ours.
    # PostgreSQL's default random_page_cost (4) is for spinning disks: with it, joining a year's conversions to
    # their interactions scans every interaction (ledger by bot: 186 ms) instead of looking them up (41 ms).
    _random_page_cost = env.float("DATABASE_RANDOM_PAGE_COST", default=1.1)
    DATABASES["default"]["OPTIONS"]["options"] = f"-c jit=off -c random_page_cost={_random_page_cost}"
    # Django's own cursors bind parameters client-side and never prepare. The callback's INSERT asks for a prepared
    # statement (bots.services), which psycopg allows only with a threshold set; this one is never reached by
    # itself. Set DATABASE_PREPARED_STATEMENTS=false behind a transaction-pooling PgBouncer older than 1.21.
    if env.bool("DATABASE_PREPARED_STATEMENTS", default=True):
        DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 1_000_000
# work_mem of the KPI rebuild's transactions only (PostgreSQL): a year of a busy tenant's messages grouped per member
# (731k member-days of 20M messages) takes ~180 MB of hash table, which spilled 280 MB to disk at 64 MB. Memory is
# taken as the grouping needs it, up to twice this (hash_mem_multiplier); the job rebuilds tenants one after another.
KPI_REBUILD_WORK_MEM = env.str("KPI_REBUILD_WORK_MEM", default="256MB")
# Days the KPI job rebuilds in one transaction (a full rebuild walks a tenant's history in spans this long): a year
# is one pass over each raw table. Lower it to shorten the transactions of very large tenants.
KPI_REBUILD_SPAN_DAYS = env.int("KPI_REBUILD_SPAN_DAYS", default=400)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "botyard",
            "OPTIONS": {
                # A cache outage must cost a request at most a few hundred milliseconds, never the request itself.
                "SOCKET_CONNECT_TIMEOUT": 0.25,
                "SOCKET_TIMEOUT": 0.25,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    DJANGO_REDIS_LOGGER = "botyard.cache"
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "botyard"}}

# Sessions live in the database so that logins survive a Redis outage.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- People ---------------------------------------------------------------------------------------------------------

AUTH_USER_MODEL = "tenants.User"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

_email = env.email_url("EMAIL_URL", default="consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Botyard <noreply@botyard.localhost>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Without collectstatic (tests, a first run) templates still resolve static paths, unhashed.
WHITENOISE_MANIFEST_STRICT = False

# --- Security -------------------------------------------------------------------------------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
_https = SECURE_SSL_REDIRECT
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = 31536000 if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
if env.bool("TRUST_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])


def _field_encryption_keys() -> list[str]:
    configured: list[str] = env.list("FIELD_ENCRYPTION_KEY", default=[])
    if configured:
        return configured
    if not DEBUG:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY must be set when DEBUG is false.")
    digest = hashlib.sha256(b"botyard-field-encryption:" + SECRET_KEY.encode()).digest()
    return [base64.urlsafe_b64encode(digest).decode()]


# Fernet keys, newest first; older ones still decrypt so the key can be rotated.
FIELD_ENCRYPTION_KEYS = _field_encryption_keys()

# --- API ------------------------------------------------------------------------------------------------------------

API_THROTTLE_RATE = env.str("API_THROTTLE_RATE", default="600/min")
API_KEY_MAX_AGE_DAYS = env.int("API_KEY_MAX_AGE_DAYS", default=90)
API_KEY_ROTATION_GRACE_HOURS = env.int("API_KEY_ROTATION_GRACE_HOURS", default=24)
API_KEY_EXPIRY_NOTICE_DAYS = env.int("API_KEY_EXPIRY_NOTICE_DAYS", default=7)
# last_used_at is written at most this often per key, not on every request.
API_KEY_LAST_USED_RESOLUTION = timedelta(minutes=5)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tenants.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tenants.api.authentication.HasApiKey"],
    "DEFAULT_THROTTLE_CLASSES": ["tenants.api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_PAGINATION_CLASS": "tenants.api.pagination.NewestFirstCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "tenants.api.schema.ErrorDocumentingAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "tenants.api.errors.json_exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Botyard API",
    "DESCRIPTION": "Run, measure and monetize GroupMe bots. Authenticate with `Authorization: Api-Key <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "RuleKindEnum": "bots.models.Rule.Kind",
        "MonetizationSourceKindEnum": "monetization.models.MonetizationSource.Kind",
        "BotHealthConditionEnum": "analytics.models.BotHealthCondition",
        "BotHealthSeverityEnum": ["warning", "critical"],
    },
}

# --- Bots ---------------------------------------------------------------------------------------------------------

# Replies to GroupMe: exponential backoff with jitter from BASE, capped at MAX, at most MAX_RETRIES retries.
BOTS_REPLY_RETRY_BASE_SECONDS = env.float("BOTS_REPLY_RETRY_BASE_SECONDS", default=1.0)
BOTS_REPLY_RETRY_MAX_SECONDS = env.float("BOTS_REPLY_RETRY_MAX_SECONDS", default=60.0)
BOTS_REPLY_MAX_RETRIES = env.int("BOTS_REPLY_MAX_RETRIES", default=6)
# Message text older than this is dropped (the rows, counts and KPIs stay): what members wrote is not kept forever.
RAW_TEXT_RETENTION_DAYS = env.int("RAW_TEXT_RETENTION_DAYS", default=365)
# More replies than this to one minute of a group's messages trips a bot's loop breaker.
BOTS_LOOP_MAX_REPLIES_PER_MINUTE = env.int("BOTS_LOOP_MAX_REPLIES_PER_MINUTE", default=60)
# Ingest: each web process remembers a bot found by its callback token this long (0: look it up every time), so a
# deactivated or deleted bot may still have callbacks stored (never answered) for up to this many seconds.
BOTS_CALLBACK_CACHE_SECONDS = env.float("BOTS_CALLBACK_CACHE_SECONDS", default=5.0)
# Ingest: each web process wakes the workers at most once per this many seconds, with every message stored since
# the previous wake-up in one task (the first message after a quiet spell goes at once).
BOTS_WAKE_UP_INTERVAL_SECONDS = env.float("BOTS_WAKE_UP_INTERVAL_SECONDS", default=0.05)

# --- Celery ---------------------------------------------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
# With no broker at all, tasks run inline: the zero-config development mode.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 5, "visibility_timeout": 3600}
# Publishing gives up quickly: callers keep their own durable record (an outbox) and a sweeper re-enqueues.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "config.beat:CodeDefinedDatabaseScheduler"
# Defaults for the periodic jobs; django-celery-beat stores them, and edits made in the admin are kept.
CELERY_BEAT_SCHEDULE = {
    "analytics.aggregate_kpis": {
        "task": "analytics.tasks.aggregate_kpis",
        "schedule": crontab(minute="*/5"),
        "options": {"expire_seconds": 240},
    },
    # Every 30 s: after a broker or worker outage, what was stored meanwhile drains within MESSAGE_GRACE (15 s) plus
    # one period, inside a minute. An idle sweep is three indexed statements that find nothing.
    "bots.sweep_outbox": {
        "task": "bots.tasks.sweep_outbox",
        "schedule": timedelta(seconds=30),
        "options": {"expire_seconds": 25},
        "previous_schedules": [crontab(minute="*")],  # installations still on the old default are moved (config.beat)
    },
    # Hourly, so every tenant's night, whatever its zone, is followed by a pass that settles its yesterday.
    "analytics.finalize_kpis": {
        "task": "analytics.tasks.finalize_kpis",
        "schedule": crontab(minute="40", hour="*"),
        "options": {"expire_seconds": 3000},
    },
    "analytics.check_bot_health": {
        "task": "analytics.health_tasks.check_bot_health",
        "schedule": crontab(minute="*/10"),
        "options": {"expire_seconds": 540},
    },
    "monetization.post_scheduled_sponsored_messages": {
        "task": "monetization.tasks.post_scheduled_sponsored_messages",
        "schedule": crontab(minute="*/5"),
        "options": {"expire_seconds": 240},
    },
    "bots.expire_raw_text": {
        "task": "bots.tasks.expire_raw_text",
        "schedule": crontab(minute="*/30"),
        "options": {"expire_seconds": 1500},
    },
    "tenants.rotate_api_keys": {
        "task": "tenants.tasks.rotate_api_keys",
        "schedule": crontab(minute="17", hour="3"),
        "options": {"expire_seconds": 6 * 3600},
    },
}

# --- Logging --------------------------------------------------------------------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "config.observability.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
    },
}

# --- Content Security Policy (django-csp) ---------------------------------------------------------------------------

# Every page loads only what Botyard serves itself: no inline script or style anywhere (the dashboard's data rides in
# json_script blocks, htmx's indicator <style> is turned off in base.html, the API docs use the split Swagger view),
# so neither 'unsafe-inline' nor 'unsafe-eval' is needed. Checked by config/tests/test_security_headers.py and, in a
# browser, config/tests/test_browser_csp.py.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
