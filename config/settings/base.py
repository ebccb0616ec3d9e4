"""Settings shared by every environment.

Every value comes from the environment through one django-environ ``env`` and has a safe default
for development, so a bare machine runs with no configuration at all: SQLite in the project folder
and Celery tasks executed in-process. Production sets ``DATABASE_URL`` and ``CELERY_BROKER_URL``.
"""

from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A .env file beside manage.py is optional; real deployments pass the environment directly.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: no CDN needed
    "django_celery_beat",
    "loyalty",
    "referrals",
    "campaigns",
    "shop",
    "cashier",
    "partner",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # never hold row locks while a template renders
# PostgreSQL prepares the sale's hot statements (loyalty.rows) after this many runs on a
# connection; 0 turns that off (for a connection pooler that cannot keep prepared statements:
# PgBouncer before 1.21 in transaction mode).
DB_PREPARE_THRESHOLD = env.int("DB_PREPARE_THRESHOLD", default=2)
# Nightly postings over all customers (points expiry, pending release) go in slices of this many
# customer ids, each its own transaction, this many slices at a time (PostgreSQL; one connection
# each). See loyalty.services.postings.in_slices.
BULK_POSTING_SLICE = env.int("BULK_POSTING_SLICE", default=50_000)
BULK_POSTING_WORKERS = env.int("BULK_POSTING_WORKERS", default=2)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite ignores select_for_update: take the write lock at BEGIN so concurrent writers wait
    # (up to the timeout) instead of failing with "database is locked" halfway through.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend whose health check looks at the socket instead of sending SELECT 1.
    DATABASES["default"]["ENGINE"] = "config.postgresql"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ru")
LANGUAGES = [("ru", _("Russian")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Moscow")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

LOGIN_URL = "cashier:login"
LOGIN_REDIRECT_URL = "/"

# Celery: without a broker every task runs eagerly in the calling process (the embedded default).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1

# Integrations are off by default so that a bare machine runs.
USE_SMS = env.bool("USE_SMS", default=False)
USE_TELEGRAM = env.bool("USE_TELEGRAM", default=False)
# SMS gateway: a GET URL template with {phone} and {text}, used only when USE_SMS is on.
SMS_GATEWAY_URL = env.str("SMS_GATEWAY_URL", default="")
# Log messages to the console when no other channel reaches the customer (development).
NOTIFY_CONSOLE = env.bool("NOTIFY_CONSOLE", default=DEBUG)

# Referrals: how long after registering a customer may still be recorded as invited.
REFERRAL_LINK_WINDOW_HOURS = env.int("REFERRAL_LINK_WINDOW_HOURS", default=24)

# The join page's one-time codes, beyond the per-number limits (3 an hour): codes one visitor's
# address may ask for an hour (IPv6: per /64), and codes everyone together may ask for an hour, a
# safety net against SMS pumping from many addresses. Codes over either limit are refused.
PHONE_CODES_PER_ADDRESS_PER_HOUR = env.int("PHONE_CODES_PER_ADDRESS_PER_HOUR", default=10)
PHONE_CODES_PER_HOUR = env.int("PHONE_CODES_PER_HOUR", default=200)
# Reverse proxies in front of the app that append the client's address to X-Forwarded-For. 0: the
# visitor is REMOTE_ADDR and the header is ignored (anyone can forge it). 1 (nginx, a load
# balancer): the visitor is the header's last address, the one that proxy appended; N: the N-th
# from the end.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)

# Phone numbers without a country code are read in this region.
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="RU")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

# drf-spectacular (Partner API docs): Swagger UI's files come from drf-spectacular-sidecar.
SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
