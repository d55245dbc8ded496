"""Musterrolle settings, read from the environment.

Without any environment variable set this is the embedded default a newcomer gets from
`make run`: SQLite, tasks run eagerly, e-mails written to var/mail/. Production sets
DJANGO_DEBUG=0, DJANGO_SECRET_KEY, DATABASE_URL, REDIS_URL and a mail backend.
"""

import json
import os
import re
import sys
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
TESTING = env_bool("MUSTERROLLE_TESTING", False) or "pytest" in sys.modules

# Without these two, management commands such as makemigrations still work; the servers
# (config/wsgi.py, config/asgi.py, the Celery worker and beat) refuse to start, see
# require_production_settings().
MISSING_PRODUCTION_SETTINGS = [
    name
    for name in ("DJANGO_SECRET_KEY", "MUSTERROLLE_SITE_URL")
    if not env(name) and not (DEBUG or TESTING)
]
SECRET_KEY = env("DJANGO_SECRET_KEY") or "insecure-development-key-never-use-in-production"
# Rotating the key: the new one in DJANGO_SECRET_KEY, the old ones here (comma-separated) until
# the links they signed have expired (password resets, unsubscribe links in sent mailings).
SECRET_KEY_FALLBACKS = env_list("DJANGO_SECRET_KEY_FALLBACKS")

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG or TESTING else "")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
# The public address used in e-mails that are sent outside a request (invitations from the
# admin, tasks): scheme and host, no trailing slash.
SITE_URL = env("MUSTERROLLE_SITE_URL").rstrip("/") or "http://127.0.0.1:8000"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.forms",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "anymail",
    "django_htmx",
    "treebeard",
    "bootstrap",
    "ops",
    "outbox",
    "members",
    "finance",
    "mailings",
    "onboarding",
    "assemblies",
    "privacy",
]

MIDDLEWARE = [
    "ops.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "members.middleware.RequireSecondFactorMiddleware",
    "members.access_log.AccessLogMiddleware",
]

ROOT_URLCONF = "config.urls"
FORM_RENDERER = "config.forms.FormRenderer"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "members.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}",
        # Persistent connections (checked before each request): no new connection per request.
        conn_max_age=int(env("DATABASE_CONN_MAX_AGE", "600")),
        conn_health_checks=True,
    )
}
# PostgreSQL's JIT compiler is for long analytic queries: it spent 0.8 s compiling each
# state's ledger query (4 s to run) and gains nothing on a page's short ones.
# DATABASE_PG_OPTIONS="" sends none (a connection pooler that refuses startup options).
PG_OPTIONS = env("DATABASE_PG_OPTIONS", "-c jit=off")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and PG_OPTIONS:
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("options", PG_OPTIONS)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (INCLUDE) speed up PostgreSQL; SQLite, the embedded default, ignores them.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

AUTH_USER_MODEL = "members.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "members:dashboard"

# --- django-allauth: e-mail login, no open sign-up, MFA ---------------------------------
ACCOUNT_ADAPTER = "members.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "reauthenticate": "10/m/user",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Musterrolle] "
# Behind a reverse proxy every request comes from the proxy's address: the login rate limits
# must count the client's (X-Forwarded-For). Set this to the number of proxies in front.
ALLAUTH_TRUSTED_PROXY_COUNT = int(env("MUSTERROLLE_TRUSTED_PROXIES", "0"))
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = False
MFA_TOTP_ISSUER = "Musterrolle"
# One 30-second step either side: phones' clocks drift, and a code typed at the turn of a step
# would otherwise be refused.
MFA_TOTP_TOLERANCE = 1
# WebAuthn refuses plain http except on localhost; allow it only while developing.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG or TESTING

# A second factor is required before anyone with a role or staff status sees a page with
# personal data. Only the local demo (`make run`) may relax this, never a production setup.
MUSTERROLLE_RELAX_MFA = env_bool("MUSTERROLLE_RELAX_MFA", False)
if MUSTERROLLE_RELAX_MFA and not DEBUG:
    raise ImproperlyConfigured("MUSTERROLLE_RELAX_MFA is only allowed with DJANGO_DEBUG=1.")

# --- Internationalisation: German first, English second -------------------------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", _("German")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Berlin"
USE_I18N = True
USE_TZ = True

# --- Static files, served by the app itself (no CDN) -----------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env("MUSTERROLLE_STATIC_ROOT") or BASE_DIR / "var" / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG

# --- Dues and arrears (the party's finance order; DESIGN.md, rules) ----------------------------
# The account members pay their dues to, named in the welcome e-mail and in reminders.
MUSTERROLLE_DUES_IBAN = env("MUSTERROLLE_DUES_IBAN", "DE02 1203 0000 0000 2020 51")
# Accounts that receive only donations: money paid to them is never dues (comma-separated).
MUSTERROLLE_DONATION_IBANS = [
    iban.replace(" ", "").upper() for iban in env_list("MUSTERROLLE_DONATION_IBANS")
]
# Reminder 2 follows reminder 1 after at least this many days.
MUSTERROLLE_REMINDER_INTERVAL_DAYS = int(env("MUSTERROLLE_REMINDER_INTERVAL_DAYS", "30"))
# Proposed for striking off after more than this many months in arrears and two reminders.
MUSTERROLLE_STRIKE_OFF_MONTHS = int(env("MUSTERROLLE_STRIKE_OFF_MONTHS", "12"))
# After the federal office's decision, the member may object for this many days.
MUSTERROLLE_OBJECTION_DAYS = int(env("MUSTERROLLE_OBJECTION_DAYS", "30"))
# Members whose reduced dues end are told this many days before.
MUSTERROLLE_REDUCTION_NOTICE_DAYS = int(env("MUSTERROLLE_REDUCTION_NOTICE_DAYS", "28"))
# Where `manage.py send_reminders` writes the letters for members without an e-mail address.
MUSTERROLLE_LETTERS_DIR = Path(env("MUSTERROLLE_LETTERS_DIR") or BASE_DIR / "var" / "letters")
# The federal office as letters and reminders name it: the return line above the address in
# the envelope's window (one line, e.g. "Partei · Bundesgeschäftsstelle · Straße 1 · 10115
# Berlin"; empty: the federal division's name) and the address members reply or object to.
MUSTERROLLE_OFFICE_ADDRESS = env("MUSTERROLLE_OFFICE_ADDRESS")
MUSTERROLLE_OFFICE_EMAIL = env("MUSTERROLLE_OFFICE_EMAIL")
# SEPA direct debit: the party as creditor (its creditor identifier from the Bundesbank, the
# account the dues are collected to), and how many days before the due date members are told.
MUSTERROLLE_SEPA_CREDITOR_ID = env("MUSTERROLLE_SEPA_CREDITOR_ID", "DE98ZZZ09999999999")
MUSTERROLLE_SEPA_CREDITOR_NAME = env("MUSTERROLLE_SEPA_CREDITOR_NAME", "Musterpartei")
MUSTERROLLE_SEPA_CREDITOR_IBAN = env("MUSTERROLLE_SEPA_CREDITOR_IBAN") or MUSTERROLLE_DUES_IBAN
MUSTERROLLE_SEPA_CREDITOR_BIC = env("MUSTERROLLE_SEPA_CREDITOR_BIC")
MUSTERROLLE_SEPA_PRENOTIFICATION_DAYS = int(env("MUSTERROLLE_SEPA_PRENOTIFICATION_DAYS", "14"))
# Assemblies (DESIGN.md, rules: voting rights): how many days before an assembly its
# invitation must go out, per kind, as the statutes say (conventions: at least 8 weeks).
MUSTERROLLE_ASSEMBLY_NOTICE_DAYS = {
    "members": int(env("MUSTERROLLE_ASSEMBLY_NOTICE_DAYS_MEMBERS", "14")),
    "delegates": int(env("MUSTERROLLE_ASSEMBLY_NOTICE_DAYS_DELEGATES", "28")),
    "nomination": int(env("MUSTERROLLE_ASSEMBLY_NOTICE_DAYS_NOMINATION", "14")),
    "convention": max(56, int(env("MUSTERROLLE_ASSEMBLY_NOTICE_DAYS_CONVENTION", "56"))),
}
# The banks' charges for a returned debit are the party's unless the finance order passes
# them on to the member (then they are charged to the member's account).
# Dues are split: this part (per cent) is the federal party's, the rest the member's state
# association's (which may pass part of it to its districts: finance.SharePolicy).
MUSTERROLLE_FEDERAL_SHARE_PERCENT = Decimal(env("MUSTERROLLE_FEDERAL_SHARE_PERCENT", "50"))
MUSTERROLLE_SEPA_RETURN_FEES_TO_MEMBER = env_bool("MUSTERROLLE_SEPA_RETURN_FEES_TO_MEMBER", False)

# Data protection (DESIGN.md, rules: data protection). How long each kind of data is kept,
# in months; the retention job (privacy.retention) anonymises or deletes what is older.
MUSTERROLLE_ACCESS_LOG_MONTHS = int(env("MUSTERROLLE_ACCESS_LOG_MONTHS", "12"))
MUSTERROLLE_RETENTION_MONTHS = {
    # register data of an ended membership, after its end
    "register": int(env("MUSTERROLLE_RETENTION_REGISTER_MONTHS", "24")),
    # bookings, mandates, debits, receipts: ten years after the end of their year (§147 AO)
    "finance": max(120, int(env("MUSTERROLLE_RETENTION_FINANCE_MONTHS", "120"))),
    # declined or withdrawn candidates of the onboarding circles
    "candidates": int(env("MUSTERROLLE_RETENTION_CANDIDATES_MONTHS", "6")),
    # who received which mailing, and the copies of sent e-mails
    "deliveries": int(env("MUSTERROLLE_RETENTION_DELIVERIES_MONTHS", "12")),
    # member lists boards uploaded for an import (the file and its cells; the counts stay)
    "uploads": int(env("MUSTERROLLE_RETENTION_UPLOADS_MONTHS", "12")),
}
# Members are told this many months before their data is anonymised.
MUSTERROLLE_RETENTION_NOTICE_MONTHS = int(env("MUSTERROLLE_RETENTION_NOTICE_MONTHS", "6"))
# The need-to-know report warns where more people than this can see one member.
MUSTERROLLE_NEED_TO_KNOW_LIMIT = int(env("MUSTERROLLE_NEED_TO_KNOW_LIMIT", "12"))

# --- Cache, Celery: Redis when REDIS_URL is set, else in-process -------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL and TESTING and (worker := os.environ.get("PYTEST_XDIST_WORKER")):
    # Parallel test processes (and the real workers they start, which inherit the variable)
    # each use a Redis database of their own: one test's cache.clear() empties the whole
    # database, broker queue included, and must not reach into another process's tests.
    REDIS_URL = urlsplit(REDIS_URL)._replace(path=f"/{1 + int(worker.removeprefix('gw'))}").geturl()
if REDIS_URL:
    CACHES = {
        "default": {
            # With Redis gone the cache answers "nothing cached" (and logs it) instead of failing
            # the page: sessions are read from the database, progress shows as waiting.
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
    CELERY_BROKER_URL = REDIS_URL
    # Tests run tasks eagerly even with Redis; the real-worker test switches that off.
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", TESTING)
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# The worker logs through LOGGING above (JSON lines), not through Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The worker uses no pub/sub: with remote control, gossip, mingle or heartbeats, kombu's Redis
# transport ends the worker ("Unrecoverable error") when Redis goes away, instead of waiting
# for it (the Redis drill). Start workers with --without-gossip --without-mingle
# --without-heartbeat; their health is the age of MUSTERROLLE_WORKER_ALIVE_FILE instead of
# `celery inspect ping`.
CELERY_WORKER_ENABLE_REMOTE_CONTROL = env_bool("CELERY_WORKER_REMOTE_CONTROL", False)
MUSTERROLLE_WORKER_ALIVE_FILE = env("MUSTERROLLE_WORKER_ALIVE_FILE", "")
# A task whose worker was killed outright (not only its pool process) is delivered again after
# this many seconds; longer than the longest task (a dues run at 500,000 members).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": int(env("CELERY_VISIBILITY_TIMEOUT", "3600"))
}

# --- E-mail through django-anymail or SMTP --------------------------------------------
# MAIL_BACKEND is a dotted backend path, e.g. anymail.backends.postmark.EmailBackend or
# django.core.mail.backends.smtp.EmailBackend; MAIL_OPTIONS is a JSON object of its options.
# ANYMAIL is a JSON object with the ESP's settings (API keys, webhook secret).
MAIL_DIR = BASE_DIR / "var" / "mail"
_mail_backend = env("MAIL_BACKEND") or (
    "outbox.backends.ReadableFileBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
_mail_options = json.loads(env("MAIL_OPTIONS", "{}"))
if _mail_backend.endswith(("filebased.EmailBackend", "ReadableFileBackend")):
    _mail_options.setdefault("file_path", str(MAIL_DIR))
MAILERS = {"default": {"BACKEND": _mail_backend, "OPTIONS": _mail_options}}
ANYMAIL = json.loads(env("ANYMAIL", "{}"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Musterrolle <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Mailings go out in batches at this rate; a claim older than the lease whose worker is gone
# is sent again by the next one (seconds). Attachments are limited to this size (bytes).
MAILING_BATCH_SIZE = int(env("MAILING_BATCH_SIZE", "100"))
MAILING_RATE_PER_MINUTE = int(env("MAILING_RATE_PER_MINUTE", "3000"))
MAILING_CLAIM_LEASE = int(env("MAILING_CLAIM_LEASE", "300"))
# The provider whose tracking webhook (/anymail/<esp>/tracking/) is open: by default the
# one of MAIL_BACKEND (anymail.backends.<esp>.EmailBackend); none for SMTP.
_esp = re.fullmatch(r"anymail\.backends\.(\w+)\.EmailBackend", _mail_backend)
MAILING_TRACKING_ESP = env("MAILING_TRACKING_ESP") or (_esp.group(1) if _esp else "")
MAILING_MAX_ATTACHMENT = int(env("MAILING_MAX_ATTACHMENT", str(5 * 1024 * 1024)))

# --- Security headers ---------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 8
# Sessions live in the database only: every web process sees the same ones, and a logout is
# final. (Read through the Redis cache, a logout while Redis is gone would be forgotten by the
# cache and the session alive again once Redis is back.)
SESSION_ENGINE = "django.contrib.sessions.backends.db"
if not DEBUG and not TESTING:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks speak plain HTTP
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(env("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

# Logs go to standard error: one JSON object per line in production (LOG_FORMAT=json, the
# default without DEBUG), plain text while developing. Every request and every task writes one
# line with its duration and user id (ops.logs); the worker logs the same way.
LOG_FORMAT = env("LOG_FORMAT", "text" if DEBUG or TESTING else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "filters": {"without_personal_data": {"()": "ops.logs.WithoutPersonalData"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["without_personal_data"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # fpdf2 subsets the letters' font through fontTools, which reports every table at INFO.
    "loggers": {"fontTools": {"level": "WARNING"}},
}
