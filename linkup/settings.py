"""Settings for the LinkUp project.

Everything a deployment changes is read from the environment. With no
environment at all the project runs on its embedded default: SQLite in WAL
mode, the in-memory channel layer, a development secret key and DEBUG on.
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` (channels-redis and the Redis
cache) switch to the deployment stack.
"""

from __future__ import annotations

import os
from pathlib import Path

from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from linkup.env import env_bool, env_list, env_number, env_present
from linkup.stack import cache_config, channel_layer_config, database_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LINKUP_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


DEBUG = env_bool("DEBUG", True)

# A fixed key is only acceptable on the embedded default; a deployment sets
# SECRET_KEY (and turns DEBUG off).
SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-linkup-development-key-do-not-use-in-production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Behind a proxy that ends TLS: "HTTP_X_FORWARDED_PROTO,https" tells Django a
# request came over HTTPS (only safe when the proxy sets that header itself).
_proxy_ssl_header = env_list("SECURE_PROXY_SSL_HEADER", [])
if _proxy_ssl_header:
    if len(_proxy_ssl_header) != 2:
        raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER is HEADER,VALUE, e.g. HTTP_X_FORWARDED_PROTO,https")
    SECURE_PROXY_SSL_HEADER = (_proxy_ssl_header[0], _proxy_ssl_header[1])
# Session and CSRF cookies over HTTPS only (a deployment behind TLS turns this on).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
# HTTPS only, and browsers told to remember it (HSTS). All off by default: the
# embedded default is plain http on 127.0.0.1. docs/deployment.md gives the
# environment under which ``manage.py check --deploy`` reports nothing.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# The load balancer's health check and the metrics scraper talk plain http to
# each worker; a redirect would make every worker look down.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_number("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

# Content-Security-Policy on every response (django-csp): only this site's own
# scripts, styles, images and connections, no inline script or style, never
# framed. 'self' in connect-src also covers this site's ws:/wss: (CSP Level 3;
# docs/hardening.md says how that was checked).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

INSTALLED_APPS = [
    # The project first, so that its ``runserver`` (daphne's, on the project's
    # server class: linkup/server.py) is the one ``manage.py`` runs; then
    # daphne, whose ``runserver`` that one extends.
    "linkup",
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "messaging",
    "bench",
]

# The user read with their profile (messaging/http/auth_backend.py); ModelBackend
# after it keeps sessions signed in before it working.
AUTHENTICATION_BACKENDS = [
    "messaging.http.auth_backend.ModelBackendWithProfile",
    "django.contrib.auth.backends.ModelBackend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Before SessionMiddleware: tells open sockets of session changes once the session is saved.
    "messaging.http.sessions.SessionRenewalMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "linkup.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "linkup" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "messaging.context_processors.notification_bell",
                "messaging.context_processors.signup",
                "messaging.context_processors.theme",
            ],
        },
    },
]

WSGI_APPLICATION = None
ASGI_APPLICATION = "linkup.asgi.application"

# --- Database -------------------------------------------------------------

SQLITE_PATH = Path(os.environ.get("SQLITE_PATH", VAR_DIR / "linkup.sqlite3"))
# Each server process's own thread copies SQLite's write-ahead log into the
# database soon after it wrote (messaging/store/wal.py). The checkpoint SQLite
# runs by itself, inside the commit that crossed this many pages of log (on
# the send path), is then only the bound on the log's size; with that thread
# off (MESSAGING_SQLITE_CHECKPOINT_SECONDS=0), SQLite's default of 1,000.
SQLITE_WAL_AUTOCHECKPOINT_PAGES = env_number(
    "SQLITE_WAL_AUTOCHECKPOINT_PAGES",
    1000 if env_number("MESSAGING_SQLITE_CHECKPOINT_SECONDS", 1.0) == 0 else 10_000,
)

if os.environ.get("DATABASE_URL"):
    # PostgreSQL through psycopg 3 with a connection pool per process; see
    # linkup/stack.py for the sizing and docs/deployment.md for the why.
    DATABASES = {"default": database_config(os.environ["DATABASE_URL"])}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": SQLITE_PATH,
            "OPTIONS": {
                # IMMEDIATE takes the write lock at BEGIN, so two writers wait
                # for each other (busy timeout) instead of failing on upgrade.
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT_PAGES};",
            },
            # Persistent: Channels closes "old" connections around every
            # database_sync_to_async call, and with CONN_MAX_AGE=0 that means
            # reopening SQLite (and checkpointing the WAL on close) for every
            # frame, which cut throughput to a fraction.
            "CONN_MAX_AGE": env_number("DATABASE_CONN_MAX_AGE", 600),
            "CONN_HEALTH_CHECKS": True,
            # A file, not Django's shared in-memory database, so that tests
            # with real threads see the same locking as production.
            "TEST": {"NAME": str(VAR_DIR / "test_linkup.sqlite3")},
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer and cache ------------------------------------------------

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    # The pub/sub layer, chosen by measurement (scripts/measure_channel_layers.py,
    # figures in docs/deployment.md); the Redis cache holds the rate-limit
    # buckets, so every process draws from the same bucket.
    CHANNEL_LAYERS = {"default": channel_layer_config(REDIS_URL)}
    CACHES = {"default": cache_config(REDIS_URL)}
else:
    CHANNEL_LAYERS = {
        "default": {
            # Channels' in-memory layer with its expiry sweep run once a second
            # rather than on every send (messaging/layers.py).
            "BACKEND": "messaging.pubsub.layers.InMemoryChannelLayer",
            "CONFIG": {"capacity": 1000, "expiry": 30},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "linkup",
        }
    }

# --- Auth -----------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/messages/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
# /accounts/signup/: on for the embedded default, so a newcomer can make an
# account at once; off by default where DATABASE_URL names a deployment's
# database, whose operator decides who gets in (create users in the admin, or
# set SIGNUP_ENABLED=true for an open site).
SIGNUP_ENABLED = env_bool("SIGNUP_ENABLED", not os.environ.get("DATABASE_URL"))

# --- Internationalisation and static files ----------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# --- Attachment storage (messaging/media/storage.py) ------------------------

# The file system under var/media/ on the embedded default; an S3-compatible
# bucket (django-storages, boto3) when AWS_STORAGE_BUCKET_NAME is set: Amazon
# S3, Cloudflare R2, Backblaze B2, MinIO or Ceph RGW (AWS_S3_ENDPOINT_URL for
# the ones that are not Amazon's). docs/deployment.md#attachment-storage.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
# Attachments are served by a view that checks access, never from MEDIA_URL.
MEDIA_URL = "/media-not-served/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL, "file_permissions_mode": 0o640},
    },
}
AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
if AWS_STORAGE_BUCKET_NAME:
    from boto3.s3.transfer import TransferConfig

    STORAGES["attachments"] = {
        # django-storages' S3Storage with one boto3 session per process (see the module)
        "BACKEND": "messaging.media.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "access_key": os.environ.get("AWS_ACCESS_KEY_ID") or None,
            "secret_key": os.environ.get("AWS_SECRET_ACCESS_KEY") or None,
            # Private objects: every read goes through the download view's check,
            # then a presigned URL that expires.
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
            "signature_version": "s3v4",
            "addressing_style": os.environ.get("AWS_S3_ADDRESSING_STYLE") or None,
            # Parts of a multipart upload one after another: a 25 MB file then
            # holds one 8 MB part in memory, not three (docs/benchmark.md).
            "transfer_config": TransferConfig(use_threads=False),
        },
    }
    # The browser follows the download view's redirect to the bucket: images
    # shown in the chat must be allowed from there.
    _bucket_origins = env_list("MESSAGING_ATTACHMENT_ORIGINS", [])
    if not _bucket_origins and os.environ.get("AWS_S3_ENDPOINT_URL"):
        _bucket_origins = [os.environ["AWS_S3_ENDPOINT_URL"].rstrip("/")]
    if not _bucket_origins:
        _bucket_origins = [f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com", "https://*.s3.amazonaws.com"]
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["img-src"] = [SELF, *_bucket_origins]
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["media-src"] = [SELF, *_bucket_origins]

# --- Email ----------------------------------------------------------------

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.filebased.EmailBackend"
    if not os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_number("EMAIL_PORT", 25)
EMAIL_TIMEOUT = env_number("EMAIL_TIMEOUT", 10)
# Most SMTP relays want a login over TLS (587: EMAIL_USE_TLS, 465: EMAIL_USE_SSL).
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "LinkUp <noreply@localhost>")

# --- Messaging (the wire contract's settings table) ------------------------

# Set here only when the environment sets them: the defaults, and what each
# setting means, live in messaging/conf.py. MESSAGING_METRICS_TOKEN (unset:
# /metrics is open) and MESSAGING_BENCH_RELAY (never on in a deployment; only
# ``manage.py bench_chat`` turns it on for the daphne it starts) are read where
# they are used.
globals().update(
    env_present(
        {
            "MESSAGING_MAX_LENGTH": int,
            "MESSAGING_MAX_FRAME_BYTES": int,
            "MESSAGING_RATE_LIMIT": str,
            "MESSAGING_MAX_GROUP_MEMBERS": int,
            "MESSAGING_MAX_TITLE_LENGTH": int,
            "MESSAGING_PRESENCE_HEARTBEAT_SECONDS": float,
            "MESSAGING_PRESENCE_EXPIRY_SECONDS": float,
            "MESSAGING_TYPING_EXPIRY_SECONDS": float,
            "MESSAGING_TYPING_RATE_LIMIT": str,
            "MESSAGING_MAX_SOCKETS_PER_USER": int,
            "MESSAGING_BAD_FRAME_LIMIT": str,
            "MESSAGING_BREAKER_FAILURES": int,
            "MESSAGING_BREAKER_RESET_SECONDS": float,
            "MESSAGING_LAYER_BREAKER_RESET_SECONDS": float,
            "MESSAGING_METRICS_TOKEN": str,
            "MESSAGING_NOTIFICATION_GROUP_SECONDS": float,
            "MESSAGING_SESSION_RECHECK_SECONDS": float,
            "MESSAGING_HANDSHAKE_BUDGET_SECONDS": float,
            "MESSAGING_HANDSHAKE_ACCEPT_SECONDS": float,
            "MESSAGING_MAX_PENDING_HANDSHAKES": int,
            "MESSAGING_SITE_URL": str,
            "MESSAGING_RETRY_BASE_SECONDS": float,
            "MESSAGING_RETRY_MAX_SECONDS": float,
            "MESSAGING_RETRY_MAX_ATTEMPTS": int,
            "MESSAGING_BENCH_RELAY": bool,
            "MESSAGING_WEBPUSH_ENABLED": bool,
            "MESSAGING_VAPID_PRIVATE_KEY": str,
            "MESSAGING_VAPID_SUBJECT": str,
            "MESSAGING_WEBPUSH_TTL_SECONDS": int,
            "MESSAGING_WEBPUSH_URGENCY": str,
            "MESSAGING_WEBPUSH_TIMEOUT_SECONDS": float,
            "MESSAGING_WEBPUSH_MAX_SUBSCRIPTIONS": int,
            "MESSAGING_WEBPUSH_ALLOW_HTTP": bool,
            "MESSAGING_EDIT_WINDOW": str,
            "MESSAGING_DELETE_WINDOW": str,
            "MESSAGING_MAX_REACTIONS": int,
            "MESSAGING_MAX_PINNED_CONVERSATIONS": int,
            "MESSAGING_MAX_UPLOAD_BYTES": int,
            "MESSAGING_MAX_DISPLAY_NAME_LENGTH": int,
            "MESSAGING_MAX_STATUS_LENGTH": int,
            "MESSAGING_MAX_AVATAR_BYTES": int,
            "MESSAGING_MAX_FILES_PER_MESSAGE": int,
            "MESSAGING_UPLOAD_QUOTA_BYTES": int,
            "MESSAGING_MAX_IMAGE_PIXELS": int,
            "MESSAGING_UPLOAD_ORPHAN_HOURS": float,
            "MESSAGING_ATTACHMENT_ACCEL_PREFIX": str,
            "MESSAGING_ATTACHMENT_URL_SECONDS": int,
            "MESSAGING_REPEAT_RATE_LIMIT": str,
            "MESSAGING_MAX_IN_FLIGHT": int,
            "MESSAGING_READ_THREADS": int,
            "MESSAGING_PING_RATE_LIMIT": str,
            "MESSAGING_REPORT_RATE_LIMIT": str,
            "MESSAGING_FETCH_RATE_LIMIT": str,
            "MESSAGING_FETCH_WORK_LIMIT": str,
            "MESSAGING_REFUSED_HOLD_SECONDS": float,
            "MESSAGING_MAX_UNSENT_BYTES": int,
            "MESSAGING_PAGE_BYTES": int,
            "MESSAGING_SEARCH_MAX_QUERY_LENGTH": int,
            "MESSAGING_SEARCH_MAX_TERMS": int,
            "MESSAGING_SEARCH_RATE_LIMIT": str,
            "MESSAGING_PROFILE_RATE_LIMIT": str,
            "MESSAGING_SIGNIN_RATE_LIMIT": str,
            "MESSAGING_SIGNIN_ADDRESS_RATE_LIMIT": str,
            "MESSAGING_SIGNUP_RATE_LIMIT": str,
            "MESSAGING_PASSWORD_RESET_RATE_LIMIT": str,
            "MESSAGING_SEARCH_INDEX_INTERVAL_SECONDS": float,
            "MESSAGING_SQLITE_CHECKPOINT_SECONDS": float,
        }
    )
)

# --- Logging --------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "loggers": {
        "messaging": {
            "handlers": ["console"],
            "level": os.environ.get("MESSAGING_LOG_LEVEL", "INFO"),
            "propagate": False,
        },
    },
}
CSRF_FAILURE_VIEW = "messaging.http.api.csrf_failure"

# The messaging routes plus the benchmark relay when MESSAGING_BENCH_RELAY is on.
WEBSOCKET_URLPATTERNS = "linkup.routing.websocket_urlpatterns"
