"""Sluice settings: one file, environment variables with zero-config defaults.

With no environment set, Sluice runs on an SQLite control database under `var/`, the ORM broker,
and DEBUG on (local work only).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SLUICE_VAR_DIR", BASE_DIR / "var"))


def envbool(name: str, default: str) -> bool:
    return os.environ.get(name, default).strip().lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.environ.get(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", "True")
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        # The development key is public: sessions signed with it can be forged (an admin's
        # included), and the target-database passwords are encrypted with a key derived from it.
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off (a long random value, e.g. "
                           "python -c 'import secrets; print(secrets.token_urlsafe(50))')")
    SECRET_KEY = "sluice-dev-only-not-secret-change-me"
# Earlier SECRET_KEYs, newest first (Django signs with SECRET_KEY and still accepts these): sessions
# survive a rotation, and so do the passwords encrypted with a key derived from one of them.
SECRET_KEY_FALLBACKS = envlist("SECRET_KEY_FALLBACKS", "")
# Target-database passwords are encrypted with this key (Fernet); defaults to one derived from
# SECRET_KEY. A comma-separated list rotates it: the first key encrypts, every one decrypts (and so
# do the keys derived from SECRET_KEY and SECRET_KEY_FALLBACKS); `manage.py reencrypt` then
# re-encrypts every stored password with the first, after which the others can go.
SLUICE_ENCRYPTION_KEY = os.environ.get("SLUICE_ENCRYPTION_KEY", "")
if SLUICE_ENCRYPTION_KEY:
    from cryptography.fernet import Fernet

    for _key in SLUICE_ENCRYPTION_KEY.split(","):
        try:
            Fernet(_key.strip())  # at start, not as a 500 when someone first saves a password
        except ValueError:
            raise RuntimeError(
                "SLUICE_ENCRYPTION_KEY is not a Fernet key or a comma-separated list of them (32 url-safe "
                "base64-encoded bytes each, e.g. python -c "
                "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
            ) from None
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

# HTTPS. Cookies are sent over HTTPS only unless DEBUG (the local start is plain HTTP); behind a
# TLS-terminating proxy that sets X-Forwarded-Proto (and drops any a client sent), set
# SLUICE_TLS_PROXY so that Django knows a request came in over HTTPS (redirects, CSRF's check of
# the Origin header). Redirects to HTTPS and HSTS are the operator's choice: off by default.
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", str(not DEBUG))
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", str(not DEBUG))
if envbool("SLUICE_TLS_PROXY", "False"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", "False")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "0")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_q",
    "reviews",
    "releases",
    "gitops",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "gitops.urls"
WSGI_APPLICATION = "gitops.wsgi.application"

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


def database_config(url: str | None) -> dict:
    if not url:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{VAR_DIR / 'sluice.sqlite3'}"
    # Persistent connections, checked before reuse: the worker and django-q2's pusher call
    # close_old_connections before every task and every queue poll (50 a second when idle), so
    # with a max age of 0 each of those was a new connection (a new PostgreSQL backend process).
    config = dj_database_url.parse(url, conn_max_age=envint("SLUICE_DB_CONN_MAX_AGE", "300"),
                                   conn_health_checks=True)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # IMMEDIATE takes the write lock at BEGIN: with the default deferred mode, the worker and
        # the web process fail with "database is locked" on lock upgrade, whatever the timeout.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    return config


DATABASES = {"default": database_config(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# django-q2. The domain rows (Task, TaskRun) own job state; the queue is only transport.
# max_attempts 1: a failed deployment task is never re-run by the queue, only by a person.
# retry > timeout (+ queue wait): otherwise the broker hands a running task to a second worker.
SLUICE_BROKER = os.environ.get("SLUICE_BROKER", "orm")
Q_CLUSTER: dict = {
    # The queue's name: with the Redis broker, the list that the workers read. Each Sluice
    # instance (staging's, prod's) that shares a Redis database needs its own, or its workers take
    # the other's messages (and run them against their own control database: lost).
    "name": os.environ.get("SLUICE_CLUSTER_NAME", "sluice"),
    "workers": envint("SLUICE_WORKERS", "2"),
    "timeout": envint("SLUICE_TASK_TIMEOUT", "3600"),
    "retry": envint("SLUICE_TASK_TIMEOUT", "3600") + 600,
    "max_attempts": 1,
    "queue_limit": envint("SLUICE_WORKERS", "2"),
    "catch_up": False,
    # Sluice's own Task and TaskRun rows record every attempt; django-q2's copy of each success was
    # a second record and, on a SQLite control database, a write transaction per task that read up
    # to save_limit rows under the lock. Failures (a worker's crash, a timeout) are still saved.
    "save_limit": -1,
    # How long the ORM broker's pusher sleeps when the queue is empty: a stage queues its next task
    # when one finishes, so this is paid per task (0.2 s, django-q2's default, doubled a re-deploy).
    "poll": float(os.environ.get("SLUICE_QUEUE_POLL", "0.02")),
}
# A running task's worker touches the task every SLUICE_HEARTBEAT_SECONDS; a task whose worker
# process is gone (same host) or silent for SLUICE_ORPHAN_SECONDS is orphaned: it can be retried.
SLUICE_HEARTBEAT_SECONDS = envint("SLUICE_HEARTBEAT_SECONDS", "10")
SLUICE_ORPHAN_SECONDS = envint("SLUICE_ORPHAN_SECONDS", "60")
SLUICE_LOCK_WAIT_SECONDS = envint("SLUICE_LOCK_WAIT_SECONDS", "300")  # a task waiting for a target's lock

if SLUICE_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"
elif SLUICE_BROKER.startswith(("redis://", "rediss://", "unix://")):
    Q_CLUSTER["redis"] = SLUICE_BROKER
else:
    raise RuntimeError(f"SLUICE_BROKER must be 'orm' or a redis:// URL, not {SLUICE_BROKER!r}")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
LOGIN_URL = "admin:login"

# Request bodies: CI posts whole migration files. The API's JSON parser enforces the limit (413);
# Django's own limit matches it for anything that reads request.body, and the field count is
# raised for the policy admin, which lists every rule as one inline form.
SLUICE_MAX_REQUEST_BYTES = envint("SLUICE_MAX_REQUEST_BYTES", str(20 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = SLUICE_MAX_REQUEST_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

REST_FRAMEWORK = {
    # Bearer first: its WWW-Authenticate header makes a request without credentials a 401.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "gitops.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["gitops.api_errors.JSONParser"],
    "EXCEPTION_HANDLER": "gitops.api_errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {"TITLE": "Sluice API", "VERSION": "1", "SERVE_INCLUDE_SCHEMA": False}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
