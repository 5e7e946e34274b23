"""Django settings: every knob is an environment variable, read once through ``env``.

A ``.env`` file in the project folder fills in what the environment does not set. Defaults are
safe for one machine (SQLite, files on disk, one worker); the deployment knobs (PostgreSQL, S3,
several workers) are settings changes, listed in README.md.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. `make run` writes one to .env on first run; in production set "
            "the SECRET_KEY environment variable to a long random string."
        )
    SECRET_KEY = "django-insecure-development-only"  # noqa: S105 - DEBUG only

# Where `make run` serves; the gallery calls this site's own endpoint here by default.
HOST = env.str("HOST", default="127.0.0.1")
PORT = env.int("PORT", default=8000)
_CALL_HOST = "127.0.0.1" if HOST in ("0.0.0.0", "", "::") else HOST  # noqa: S104

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", HOST])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
if env.bool("SECURE_PROXY_SSL", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Behind HTTPS (see README, "Deploying"): redirect plain HTTP, send HSTS, keep cookies secure.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool(
    "SESSION_COOKIE_SECURE", default=env.bool("SECURE_PROXY_SSL", False)
)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=env.bool("SECURE_PROXY_SSL", False))
# Health checks come from load balancers over plain HTTP on the internal address.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.humanize",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "taggit",
    "axes",
    "corsheaders",
    "csp",
    "django_tasks",
    "django_tasks_db",
    "novisurf_site",
    "api",
    "gallery",
]

MIDDLEWARE = [
    # First: every answer below carries x-request-id, and health probes skip the rest.
    "novisurf_site.middleware.RequestIdMiddleware",
    "novisurf_site.middleware.HealthMiddleware",
    "novisurf_site.middleware.ChunkedBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before anything that may answer: a browser's preflight to /v1/ gets its CORS headers.
    "corsheaders.middleware.CorsMiddleware",
    "csp.middleware.CSPMiddleware",
    # WhiteNoise, able to run under ASGI without a thread hop (see the class).
    "novisurf_site.middleware.StaticFilesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (the site's login and the admin's): django-axes, a well-kept library made for
# exactly this, rather than code of our own. Locked per address and, separately, per account.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("NOVISURF_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("NOVISURF_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
# A success forgets only that account's failures from that address (the handler says why).
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "novisurf_site.lockout.LockoutHandler"
AXES_LOCKOUT_CALLABLE = "novisurf_site.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "novisurf_site.lockout.client_ip"
# Proxies whose X-Forwarded-For is believed (addresses or networks); none by default, so that a
# header a client made up never picks the address a lockout counts against.
NOVISURF_TRUSTED_PROXIES = env.list("NOVISURF_TRUSTED_PROXIES", default=[])
# Hosts (names or addresses) whose private addresses a provider's result URLs may point to,
# besides the provider's own origin: none by default (no request forgery into the network).
NOVISURF_PRIVATE_DOWNLOAD_HOSTS = env.list("NOVISURF_PRIVATE_DOWNLOAD_HOSTS", default=[])
AXES_VERBOSE = False

# Content-Security-Policy on every page (django-csp): scripts and styles only from this site,
# no inline script. Style *attributes* are allowed: tiles carry their aspect ratio in one,
# and an attribute can run no script.
_IMG_SOURCES = ["'self'", "data:", "blob:", *env.list("NOVISURF_CSP_IMG_SRC", default=[])]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": _IMG_SOURCES,
        "media-src": _IMG_SOURCES,
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

ROOT_URLCONF = "novisurf_site.urls"
WSGI_APPLICATION = "novisurf_site.wsgi.application"

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

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the task worker write at the same time: WAL lets readers go on while
    # one writes, IMMEDIATE takes the write lock up front instead of failing on upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    )
    # Tests use a file, not memory, so that the live server, a task worker thread and the test
    # itself share one database the way the real processes do.
    # One file per test process, so that parallel runs never share it.
    DATABASES["default"].setdefault(
        "TEST", {"NAME": str(Path(tempfile.gettempdir()) / f"novisurf-test-{os.getpid()}.sqlite3")}
    )
# Connection reuse. Which server runs us decides the default (wsgi.py and asgi.py say which):
# - WSGI (gunicorn, threads): each thread keeps its connection for CONN_MAX_AGE seconds, checked
#   before reuse (CONN_HEALTH_CHECKS), instead of connecting on every request.
# - ASGI (uvicorn, what `make run` serves): Django's persistent connections are per thread and
#   its async views run on ever-changing threads, so Django's docs advise against them there.
#   On PostgreSQL we use psycopg's connection pool instead (DATABASE_POOL), shared by the
#   process; CONN_MAX_AGE must then be 0 (Django refuses both at once).
# SQLite connects in microseconds and has nothing to pool.
_SERVER = os.environ.get("NOVISURF_SERVER", "")
DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("CONN_HEALTH_CHECKS", default=True))
_is_postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if _is_postgres and env.bool("DATABASE_POOL", default=_SERVER == "asgi"):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES["default"].setdefault(
        "CONN_MAX_AGE",
        env.int("CONN_MAX_AGE", default=60 if _is_postgres and _SERVER == "wsgi" else 0),
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://novisurf")}
# Sites (or test runs) that share one Redis keep apart by prefix.
CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX", default="")

TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from static/ without collectstatic on one machine; a deployment collects.
WHITENOISE_USE_FINDERS = True

MEDIA_URL = "media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))
# Under ASGI Django streams a file response's synchronous iterator from a thread, chunk by
# chunk, and warns each time; that is the behaviour we want, so the warning is noise.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators"
)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
if env.str("STORAGE_BACKEND", default="filesystem") == "s3":
    # django-storages reads AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            # A folder inside the bucket, so that one bucket can hold several sites.
            "location": env.str("AWS_LOCATION", default=""),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
            # Originals and thumbnails are reached through presigned URLs this short-lived.
            "querystring_expire": env.int("NOVISURF_PRESIGNED_URL_SECONDS", default=300),
        },
    }
    # Pages show images by redirect to presigned URLs on the store: let the CSP allow it.
    _store = env.str("AWS_S3_ENDPOINT_URL", default="")
    if _store:
        from urllib.parse import urlsplit

        _IMG_SOURCES.append("{0.scheme}://{0.netloc}".format(urlsplit(_store)))
    else:
        _IMG_SOURCES.append("https://*.amazonaws.com")
    # An unreachable store answers within seconds (a clear 503), not after boto's minutes.
    from botocore.config import Config as _BotoConfig

    STORAGES["default"]["OPTIONS"]["client_config"] = _BotoConfig(
        connect_timeout=env.float("AWS_S3_CONNECT_TIMEOUT", default=5.0),
        read_timeout=env.float("AWS_S3_READ_TIMEOUT", default=30.0),
        retries={"max_attempts": env.int("AWS_S3_MAX_ATTEMPTS", default=3), "mode": "standard"},
    )
    # Thumbnails and originals are reached through presigned URLs on the storage's own origin.
    _IMG_SOURCES.append(env.str("AWS_S3_ENDPOINT_URL", default="") or "https://*.amazonaws.com")

TAGGIT_CASE_INSENSITIVE = True

# --- Novisurf --------------------------------------------------------------------------------
# The endpoint the gallery calls, and how. Default: this site's own, with the key `make run`
# made for it (written to .env).
NOVISURF_API_BASE = env.str("NOVISURF_API_BASE", default=f"http://{_CALL_HOST}:{PORT}/v1")
NOVISURF_API_KEY = env.str("NOVISURF_API_KEY", default="")
NOVISURF_AUTH_HEADER = env.str("NOVISURF_AUTH_HEADER", default="bearer").lower()
NOVISURF_API_TIMEOUT = env.float("NOVISURF_API_TIMEOUT", default=300.0)

# Where the built-in endpoint forwards models it does not render itself. Empty: it forwards
# nothing, and such models are a 404.
NOVISURF_UPSTREAM_BASE = env.str("NOVISURF_UPSTREAM_BASE", default="")
NOVISURF_UPSTREAM_KEY = env.str("NOVISURF_UPSTREAM_KEY", default="")
NOVISURF_UPSTREAM_AUTH_HEADER = env.str("NOVISURF_UPSTREAM_AUTH_HEADER", default="bearer").lower()
NOVISURF_UPSTREAM_TIMEOUT = env.float("NOVISURF_UPSTREAM_TIMEOUT", default=120.0)
# Requests in flight to that upstream at once (per process); more wait, then get a 429.
NOVISURF_UPSTREAM_MAX_CONCURRENCY = env.int("NOVISURF_UPSTREAM_MAX_CONCURRENCY", default=8)
# Built-in renders in this many helper processes (0: in the web process), so that one web
# process keeps several cores busy; `make run` asks for one per core. Renders smaller than
# NOVISURF_RENDER_POOL_MIN_PIXELS (width x height x n) stay in the web process: cheaper there.
NOVISURF_RENDER_PROCESSES = env.int("NOVISURF_RENDER_PROCESSES", default=0)
NOVISURF_RENDER_POOL_MIN_PIXELS = env.int("NOVISURF_RENDER_POOL_MIN_PIXELS", default=512 * 512)
# The providers, aliases and models the endpoint routes to (TOML; see the README). Empty: the
# built-in renderer and the upstream above only. A wrong file stops startup.
NOVISURF_PROVIDERS_FILE = env.str("NOVISURF_PROVIDERS_FILE", default="")

# Browser clients of the endpoint (django-cors-headers): the origins that may call /v1/ from a
# page, e.g. "https://app.example.com". Empty: none (programs and the gallery need no CORS).
CORS_ALLOWED_ORIGINS = env.list("NOVISURF_CORS_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/v1/.*$"
# Keys travel in headers, never in cookies: no credentials mode.
CORS_ALLOW_CREDENTIALS = False
CORS_ALLOW_HEADERS = (
    "accept",
    "authorization",
    "content-type",
    "x-api-key",
    "x-request-id",
    "openai-organization",
    "openai-project",
    "openai-beta",
    "idempotency-key",
    # What the official SDKs send about themselves.
    "x-stainless-arch",
    "x-stainless-async",
    "x-stainless-helper-method",
    "x-stainless-lang",
    "x-stainless-os",
    "x-stainless-package-version",
    "x-stainless-poll-helper",
    "x-stainless-retry-count",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-timeout",
)
CORS_EXPOSE_HEADERS = (
    "x-request-id",
    "x-novisurf-provider",
    "x-novisurf-cost",
    "retry-after",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
)

# Active API keys one person may hold.
NOVISURF_MAX_KEYS_PER_USER = env.int("NOVISURF_MAX_KEYS_PER_USER", default=20)

# Requests per minute for one API key on the built-in endpoint.
NOVISURF_RATE_LIMIT_PER_MINUTE = env.int("NOVISURF_RATE_LIMIT_PER_MINUTE", default=60)

# Images bigger than this many pixels are refused before they are decoded (decompression bombs).
NOVISURF_MAX_IMAGE_PIXELS = env.int("NOVISURF_MAX_IMAGE_PIXELS", default=40_000_000)
NOVISURF_MAX_IMAGE_BYTES = env.int("NOVISURF_MAX_IMAGE_BYTES", default=50 * 1024 * 1024)
NOVISURF_THUMBNAIL_SIZE = env.int("NOVISURF_THUMBNAIL_SIZE", default=512)
# Frames of an animation (GIF, WebP, APNG): more is refused, each one is decoded before storing.
NOVISURF_MAX_FRAMES = env.int("NOVISURF_MAX_FRAMES", default=1000)
# The whole multipart body of POST /v1/images/edits (up to 16 images and a mask); larger is a 413.
NOVISURF_MAX_EDIT_BODY_BYTES = env.int("NOVISURF_MAX_EDIT_BODY_BYTES", default=64 * 1024 * 1024)
# The whole body of one import (/import: up to 50 files); larger is refused before it is read.
NOVISURF_MAX_IMPORT_BODY_BYTES = env.int(
    "NOVISURF_MAX_IMPORT_BODY_BYTES", default=256 * 1024 * 1024
)
GALLERY_PAGE_SIZE = env.int("GALLERY_PAGE_SIZE", default=24)

# The queue. A running generation's lease is renewed every third of this; a worker that dies
# leaves a lease that lapses, and the next housekeeping round takes the generation up again.
NOVISURF_LEASE_SECONDS = env.int("NOVISURF_LEASE_SECONDS", default=30)
NOVISURF_MAINTENANCE_INTERVAL = env.float("NOVISURF_MAINTENANCE_INTERVAL", default=10.0)
# How long a generation may wait, in all, for a provider that answers 429/503 with Retry-After.
NOVISURF_PROVIDER_MAX_WAIT = env.int("NOVISURF_PROVIDER_MAX_WAIT", default=30 * 60)
# Per-person limits (0 = none); an admin can set other values per person (User limits).
NOVISURF_USER_MAX_RUNNING = env.int("NOVISURF_USER_MAX_RUNNING", default=2)
NOVISURF_USER_IMAGES_PER_DAY = env.int("NOVISURF_USER_IMAGES_PER_DAY", default=0)
NOVISURF_USER_MAX_BYTES = env.int("NOVISURF_USER_MAX_BYTES", default=0)
# USD one person may spend in a calendar month (UTC) on priced providers (0 = no limit).
NOVISURF_USER_MONTHLY_BUDGET = Decimal(env.str("NOVISURF_USER_MONTHLY_BUDGET", default="0"))
# Trashed images are deleted for good after this many days.
NOVISURF_TRASH_DAYS = env.int("NOVISURF_TRASH_DAYS", default=30)
# Housekeeping steps of other apps, run by the workers' housekeeping round (hourly).
NOVISURF_HOUSEKEEPING = ["api.services.issued_strays_sweep"]
# "Undo" after a move to the trash is offered for this long (the Trash page restores any time).
NOVISURF_TRASH_UNDO_SECONDS = env.int("NOVISURF_TRASH_UNDO_SECONDS", default=600)
# Bulk actions on more images than this run in the background, with a progress page.
NOVISURF_BULK_INLINE_LIMIT = env.int("NOVISURF_BULK_INLINE_LIMIT", default=1000)

# How originals and thumbnails reach the browser (see gallery.views.files):
# "presigned" on S3 (a redirect to a short-lived URL), else through this process, or, with
# NOVISURF_SENDFILE_HEADER set, by the proxy in front (nginx "X-Accel-Redirect", Apache or
# lighttpd "X-Sendfile"), which is sent NOVISURF_SENDFILE_PREFIX followed by the storage name.
NOVISURF_SENDFILE_HEADER = env.str("NOVISURF_SENDFILE_HEADER", default="")
NOVISURF_SENDFILE_PREFIX = env.str("NOVISURF_SENDFILE_PREFIX", default="/protected-media/")
NOVISURF_FILE_DELIVERY = (
    "presigned"
    if STORAGES["default"]["BACKEND"] == "storages.backends.s3.S3Storage"
    else ("sendfile" if NOVISURF_SENDFILE_HEADER else "stream")
)

# LOG_FORMAT=json: one JSON object a line (python-json-logger), for a log collector. Either way
# each line carries the request id (and, in a task worker, the task id).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "novisurf.logcontext.ContextFilter"}},
    "formatters": {
        "plain": {
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(task_id)s]: %(message)s"
        },
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
