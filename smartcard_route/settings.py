"""Settings for Smartcard Route.

Every value comes from the environment (see .env.example, which lists them all). The defaults
let `make run` work on a fresh machine with no server: SQLite under var/, the filesystem Celery
broker and the console email backend. DEBUG is off unless set, and with DEBUG off the site
refuses to start without a SECRET_KEY.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from smartcard_route.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set (or DEBUG=True for local development).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for /api/docs/, served from the site itself
    "anymail",
    "axes",
    "csp",
    # The directory's history: every change to an RA, LPC, owner, pharmacy or ICB's RA (issue 11).
    "simple_history",
    "smartcard_route.mail",
    "directory",
    "issues",
]

MIDDLEWARE = [
    # Requests by view and status for /metrics (django-prometheus): first and last, to see every answer.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "smartcard_route.middleware.StaticAndNhsukAssetsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Cache-Control: no-store on every answer to a signed-in user (personal data; shared computers).
    "smartcard_route.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",
    # Who made a change, for the directory's history (simple_history).
    "simple_history.middleware.HistoryRequestMiddleware",
    # Every page needs a login unless its view is marked @login_not_required.
    "smartcard_route.middleware.LoginRequiredMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "smartcard_route.urls"
WSGI_APPLICATION = "smartcard_route.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": False,
        "OPTIONS": {
            "environment": "smartcard_route.jinja2.environment",
            # Pages rendered with a request get `nav_items`, the header links of the user's roles.
            "context_processors": ["directory.navigation.navigation"],
        },
    },
    {
        # Django's admin and drf-spectacular's Swagger UI page use Django templates; our overrides of
        # the admin's (accessibility fixes, docs/accessibility.md) are in templates/django/.
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates" / "django"],
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

# Database: SQLite under var/ unless DATABASE_URL points elsewhere (PostgreSQL in CI and production).
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'smartcard_route.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A write lock wait instead of "database is locked" when the web server and worker write at once.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Fail fast instead of hanging a web worker (or the health check) when the server does not answer.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))

# Faults (issue 10): no request waits on the database for ever. A statement that runs longer than
# DB_STATEMENT_TIMEOUT_MS (a lock held elsewhere, a server in trouble) is cancelled, and the request
# answers with an error instead of hanging a web worker (0 turns it off).
DB_STATEMENT_TIMEOUT_MS = env_int("DB_STATEMENT_TIMEOUT_MS", 30_000)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_STATEMENT_TIMEOUT_MS > 0:
    DATABASES["default"]["OPTIONS"].setdefault("options", f"-c statement_timeout={DB_STATEMENT_TIMEOUT_MS}")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "directory.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "landing"  # by role (issues.views.home.landing)
LOGOUT_REDIRECT_URL = "login"

# Sign-in with NHS CIS2 (OpenID Connect, private_key_jwt; directory.accounts.cis2, docs/sign-in.md),
# beside the password login. Off unless the client id, the provider's discovery URL and the site's
# private key are all given; some but not all of them stop the start with a message naming the rest.
CIS2_CLIENT_ID = env_str("CIS2_CLIENT_ID")
CIS2_SERVER_METADATA_URL = env_str("CIS2_SERVER_METADATA_URL")
CIS2_PRIVATE_KEY_FILE = env_str("CIS2_PRIVATE_KEY_FILE")
CIS2_KEY_ID = env_str("CIS2_KEY_ID")  # the kid registered with CIS2; default the key's JWK thumbprint
CIS2_SCOPES = env_str("CIS2_SCOPES", "openid email profile")
CIS2_SIGNING_ALG = env_str("CIS2_SIGNING_ALG", "RS512")
CIS2_REQUIRE_VERIFIED_EMAIL = env_bool("CIS2_REQUIRE_VERIFIED_EMAIL", True)
CIS2_TIMEOUT_SECONDS = env_float("CIS2_TIMEOUT_SECONDS", 10)
_cis2_missing = [
    name
    for name, value in (
        ("CIS2_CLIENT_ID", CIS2_CLIENT_ID),
        ("CIS2_SERVER_METADATA_URL", CIS2_SERVER_METADATA_URL),
        ("CIS2_PRIVATE_KEY_FILE", CIS2_PRIVATE_KEY_FILE),
    )
    if not value
]
if 0 < len(_cis2_missing) < 3:
    raise ImproperlyConfigured(f"CIS2 sign-in is half configured: set {', '.join(_cis2_missing)} (docs/sign-in.md).")

# Lock-out after repeated failed logins (django-axes): per account and per address.
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("LOGIN_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.jinja"
AXES_IPWARE_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
NODE_MODULES = BASE_DIR / "node_modules"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("nhsuk", NODE_MODULES / "nhsuk-frontend" / "dist" / "nhsuk"),
    # Chart.js (npm chart.js, package-lock.json), self-hosted under /static/chartjs/ for the figures'
    # charts (static/js/figures.js imports chart.umd.min.js): same origin, so the CSP needs no change.
    ("chartjs", NODE_MODULES / "chart.js" / "dist"),
]
# NHS.UK frontend's CSS (compiled with its assets path "/assets/", scss/) and page template's icons
# refer to /assets/...: our WhiteNoise middleware serves the package's assets folder at that prefix
# too (smartcard_route.middleware.StaticAndNhsukAssetsMiddleware).
NHSUK_ASSETS_DIR = NODE_MODULES / "nhsuk-frontend" / "dist" / "nhsuk" / "assets"
# NHS.UK frontend's CSS is compiled from its Sass (scss/) into static/build/ by `make setup` and the
# Dockerfile, without the NHS web font (Frutiger) unless NHS_FONTS: only NHS organisations in England
# may use it, and it comes from assets.nhs.uk, which the Content Security Policy then allows for fonts.
NHS_FONTS = env_bool("NHS_FONTS", False)
STATIC_MANIFEST = env_bool("STATIC_MANIFEST", not DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if STATIC_MANIFEST
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
MEDIA_ROOT = VAR_DIR / "media"

# Security: HTTPS settings are on unless DEBUG, and can be turned off behind a TLS-terminating proxy.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
# The preload directive only makes the site eligible for browsers' HTTPS-only lists (submission is a
# separate, manual step); `check --deploy` asks for it in production.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
if env_bool("BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
X_FRAME_OPTIONS = "DENY"
CSRF_FAILURE_VIEW = "smartcard_route.views.csrf_failure"
SECURE_REFERRER_POLICY = "same-origin"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "https://assets.nhs.uk"] if NHS_FONTS else [SELF],
        "connect-src": [SELF],
        "form-action": [SELF, "mailto:"],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    },
}

# Celery: the filesystem transport under var/ by default, Redis (or any kombu URL) when set.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    # The transport expects its folders to exist; they are plain data folders under var/.
    for _folder in ("out", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Task modules that autodiscovery (each app's tasks.py) does not find.
CELERY_IMPORTS = ["directory.accounts.tasks"]
# Workers log through LOGGING below (JSON on stdout) like the web processes.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Nudges (issues.nudges): reminders per wait before they drop to once a working day, issues per
# sweep transaction, database connections a sweep works on at once (PostgreSQL), and when the
# daily digest goes out (weekdays, in TIME_ZONE).
NUDGE_MAX_REMINDERS = env_int("NUDGE_MAX_REMINDERS", 3)
NUDGE_BATCH_SIZE = env_int("NUDGE_BATCH_SIZE", 1000)
NUDGE_SWEEP_CONNECTIONS = env_int("NUDGE_SWEEP_CONNECTIONS", 2)
DIGEST_TIME = env_str("DIGEST_TIME", "08:00")
try:
    _digest_hour, _digest_minute = (int(part) for part in DIGEST_TIME.split(":"))
except ValueError:
    raise ImproperlyConfigured(f"DIGEST_TIME must be HH:MM, not {DIGEST_TIME!r}") from None
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Nudges: sweep for passed deadlines every minute (a sweep not started within the minute is
    # dropped: the next one does its work); the daily digest on weekday mornings.
    "nudge-sweep": {"task": "issues.tasks.nudge_sweep", "schedule": 60.0, "options": {"expires": 55}},
    "nudge-daily-digest": {
        "task": "issues.tasks.send_nudge_digests",
        "schedule": crontab(hour=_digest_hour, minute=_digest_minute, day_of_week="mon-fri"),
    },
    # The outbox: re-enqueue mail whose task was lost or whose worker died mid-send.
    "requeue-stuck-outbound-emails": {
        "task": "smartcard_route.mail.tasks.requeue_stuck_outbound_emails",
        "schedule": 300.0,
    },
    # Inbound mail: posts whose read task was lost or whose reader died, emails left stored but not
    # handed over (INBOUND_STALE_AFTER_MINUTES). Every minute: two indexed queries when all is well.
    "process-stale-inbound-posts": {
        "task": "smartcard_route.mail.tasks.process_stale_inbound_posts",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
}

# Retention (DESIGN.md, "Personal data"; issues.services.retention): personal data is redacted in
# place this many months after an issue was resolved or withdrawn (a systemic case, closed), by a
# nightly beat task working in batches of RETENTION_BATCH_SIZE rows, at RETENTION_TIME (TIME_ZONE).
RETENTION_MONTHS = env_int("RETENTION_MONTHS", 24)
if RETENTION_MONTHS < 1:
    raise ImproperlyConfigured(f"RETENTION_MONTHS must be at least 1, not {RETENTION_MONTHS}")
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 500)
RETENTION_TIME = env_str("RETENTION_TIME", "02:30")
try:
    _retention_hour, _retention_minute = (int(part) for part in RETENTION_TIME.split(":"))
except ValueError:
    raise ImproperlyConfigured(f"RETENTION_TIME must be HH:MM, not {RETENTION_TIME!r}") from None
CELERY_BEAT_SCHEDULE["retention-redact"] = {
    "task": "issues.tasks.redact_expired_personal_data",
    "schedule": crontab(hour=_retention_hour, minute=_retention_minute),
}

REDIS_URL = env_str("REDIS_URL", "")

# What an operator watches (docs/operations.md; smartcard_route.monitoring and .metrics, issue 11).
# The `monitoring` cache holds what the worker tells the web processes (each beat task's last run,
# Celery task failures): Redis when REDIS_URL is set, so every worker and web process on every
# machine shares it; otherwise files under VAR_DIR (one machine, `make run`).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "monitoring": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL, "KEY_PREFIX": "monitoring"}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "monitoring")}
    ),
}
# /healthz calls the worker stale when the nudge sweep (every minute) last finished longer ago than this.
WORKER_BEAT_STALE_AFTER_SECONDS = env_int("WORKER_BEAT_STALE_AFTER_SECONDS", 300)
# /metrics (Prometheus) answers only a scraper with this bearer token or from these addresses
# (comma-separated IPs or networks, e.g. 10.0.0.0/8); with neither set it answers 404.
METRICS_TOKEN = env_str("METRICS_TOKEN")
METRICS_ALLOWED_IPS = env_list("METRICS_ALLOWED_IPS")
# Under gunicorn with several workers, a folder (emptied when the server starts) where each worker
# process writes its request counters, so a scrape adds up all of them (prometheus_client's
# multiprocess mode, which reads the same variable).
PROMETHEUS_MULTIPROC_DIR = env_str("PROMETHEUS_MULTIPROC_DIR")
# The outbox's rows in finished states (sent, delivered, failed, ...) are counted over the whole
# table, which no index serves: at most once per this many seconds, kept in the monitoring cache.
METRICS_OUTBOX_TOTALS_EVERY_SECONDS = env_int("METRICS_OUTBOX_TOTALS_EVERY_SECONDS", 300)

# Email: the console backend unless an ESP is configured through anymail.
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_FILE_PATH = str(VAR_DIR / "mail")
# Sending through an SMTP relay (EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend): where,
# and how long to wait for it before the outbox counts the try as failed and retries later.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Smartcard Route <noreply@smartcard-route.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# While the webhook secret is rotated (docs/operations.md), the previous one is accepted too.
_webhook_secrets = [env_str("ANYMAIL_WEBHOOK_SECRET"), env_str("ANYMAIL_WEBHOOK_SECRET_PREVIOUS")]
_anymail: dict[str, object] = {
    "WEBHOOK_SECRET": _webhook_secrets if all(_webhook_secrets) else _webhook_secrets[0],
    "AMAZON_SES_CLIENT_PARAMS": {},
    "POSTMARK_SERVER_TOKEN": env_str("POSTMARK_SERVER_TOKEN"),
    "MAILGUN_API_KEY": env_str("MAILGUN_API_KEY"),
}
ANYMAIL = {key: value for key, value in _anymail.items() if value}
DIRECTORY_MANAGER_EMAIL = env_str("DIRECTORY_MANAGER_EMAIL", "directory-manager@smartcard-route.localhost")
CPE_IT_EMAIL = env_str("CPE_IT_EMAIL", "it@cpe.org.uk")
INBOUND_LOCAL_PART = env_str("INBOUND_LOCAL_PART", "issues")
INBOUND_DOMAIN = env_str("INBOUND_DOMAIN", "smartcard-route.localhost")
# Inbound mail (smartcard_route.mail): attachments larger than this are refused (listed, not stored); a
# webhook post larger than INBOUND_MAX_WEBHOOK_BYTES is refused whole (413).
INBOUND_MAX_ATTACHMENT_BYTES = env_int("INBOUND_MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024)
INBOUND_MAX_WEBHOOK_BYTES = env_int("INBOUND_MAX_WEBHOOK_BYTES", 100 * 1024 * 1024)
# The ESPs whose webhooks (inbound mail, delivery tracking) are mounted under /webhooks/anymail/:
# those the site uses, of the ones supported (smartcard_route.mail.webhooks.ESPS).
MAIL_WEBHOOK_ESPS = env_list("MAIL_WEBHOOK_ESPS", ["amazon_ses", "postmark"])
# The inbound webhook stores each post and enqueues its read for the Celery worker (so a request
# costs one INSERT: 127 posts a second measured on 2 CPUs, docs/benchmarks.md); True reads it in the
# request instead (about 40 ms of CPU a post: the parser, storing, matching), for a site that runs
# no worker. Default False.
INBOUND_READ_IN_REQUEST = env_bool("INBOUND_READ_IN_REQUEST", False)
# Inbound posts left unread this many minutes (their task lost, the broker down when the webhook
# enqueued it, or their reader died) are read by the beat task (every minute), and emails left
# stored but not handed over to the issues are handed over. Default 2: a lost task's post is read
# 2 to 3 minutes after it came.
INBOUND_STALE_AFTER_MINUTES = env_float("INBOUND_STALE_AFTER_MINUTES", 2)
# The lists (pages and API) count what matches up to this many and page through that many (the
# newest, in the lists' order); past it they say "more than" (smartcard_route.pagination). The CSV
# export has every row. 0: count everything.
LIST_COUNT_LIMIT = env_int("LIST_COUNT_LIMIT", 100_000)
# Mail domains shared by many organisations: a sender there is never taken for an RA by domain alone.
INBOUND_SHARED_MAIL_DOMAINS = env_list(
    "INBOUND_SHARED_MAIL_DOMAINS",
    [
        "nhs.net",
        "nhs.uk",
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "live.co.uk",
        "yahoo.com",
        "yahoo.co.uk",
        "icloud.com",
        "btinternet.com",
        "aol.com",
    ],
)

# The working-time clock (issues.clock) and the reply windows, in working days.
WORKING_DAY_START = env_str("WORKING_DAY_START", "09:00")
WORKING_DAY_END = env_str("WORKING_DAY_END", "17:00")
WORKING_TIME_ZONE = env_str("WORKING_TIME_ZONE", "Europe/London")
WINDOW_RA_REPLY_DAYS = env_float("WINDOW_RA_REPLY_DAYS", 2)
WINDOW_RA_REPLY_EMERGENCY_DAYS = env_float("WINDOW_RA_REPLY_EMERGENCY_DAYS", 0.5)
WINDOW_LPC_ACTION_DAYS = env_float("WINDOW_LPC_ACTION_DAYS", 2)
WINDOW_CPE_TRIAGE_DAYS = env_float("WINDOW_CPE_TRIAGE_DAYS", 2)
WINDOW_PHARMACY_UPDATE_DAYS = env_float("WINDOW_PHARMACY_UPDATE_DAYS", 5)
WINDOW_LPC_FOLLOW_UP_DAYS = env_float("WINDOW_LPC_FOLLOW_UP_DAYS", 5)
REOPEN_WITHIN_DAYS = env_int("REOPEN_WITHIN_DAYS", 30)

# Systemic cases (DESIGN.md, "LPC officers and CPE IT"): the site suggests a group when issues with
# the same RA and kind of problem come from at least this many pharmacies within this many days.
CASE_SUGGESTION_MIN_PHARMACIES = env_int("CASE_SUGGESTION_MIN_PHARMACIES", 3)
CASE_SUGGESTION_WITHIN_DAYS = env_int("CASE_SUGGESTION_WITHIN_DAYS", 30)
# The national figures (CPE IT's): worked out by the worker every FIGURES_REFRESH_MINUTES
# (issues.services.figures), and said to be possibly out of date once older than
# FIGURES_STALE_MINUTES (the worker or its beat may have stopped).
FIGURES_REFRESH_MINUTES = env_int("FIGURES_REFRESH_MINUTES", 10)
FIGURES_STALE_MINUTES = env_int("FIGURES_STALE_MINUTES", 3 * FIGURES_REFRESH_MINUTES)
CELERY_BEAT_SCHEDULE["refresh-national-figures"] = {
    "task": "issues.tasks.refresh_figures",
    "schedule": 60.0 * FIGURES_REFRESH_MINUTES,
    # One not started within its interval is dropped: the next one does its work.
    "options": {"expires": 60.0 * FIGURES_REFRESH_MINUTES - 5},
}

# CPE IT's suggested groups (issues.selectors.cases) are worked out by the worker this often; the
# pages read its last copy, less the issues grouped or closed since, and say when it was made.
CASE_SUGGESTIONS_REFRESH_MINUTES = env_int("CASE_SUGGESTIONS_REFRESH_MINUTES", 5)
CELERY_BEAT_SCHEDULE["refresh-case-suggestions"] = {
    "task": "issues.tasks.refresh_case_suggestions",
    "schedule": 60.0 * CASE_SUGGESTIONS_REFRESH_MINUTES,
    "options": {"expires": 60.0 * CASE_SUGGESTIONS_REFRESH_MINUTES - 5},
}

# The outbox (smartcard_route.mail): tries per message, exponential backoff between them, and when the
# requeue sweep takes back rows left queued (task lost) or sending (worker died).
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 6)
OUTBOX_RETRY_BASE_SECONDS = env_float("OUTBOX_RETRY_BASE_SECONDS", 30)
OUTBOX_RETRY_MAX_SECONDS = env_float("OUTBOX_RETRY_MAX_SECONDS", 3600)
OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES = env_float("OUTBOX_REQUEUE_QUEUED_AFTER_MINUTES", 10)
OUTBOX_REQUEUE_SENDING_AFTER_MINUTES = env_float("OUTBOX_REQUEUE_SENDING_AFTER_MINUTES", 30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in, JSON out. The browsable API (DRF's HTML rendering) is off: it failed axe in ways its
    # template cannot fix without rewriting it (docs/accessibility.md), and the site already has an
    # accessible way to read and try the API in a browser, /api/docs/. A browser's Accept (*/*) gets
    # JSON; `Accept: text/html` alone gets 406.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",  # the tests' APIClient sends what the API takes
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every 400 as field errors, the one shape the schema documents (issues.api.errors).
    "EXCEPTION_HANDLER": "issues.api.errors.api_exception_handler",
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "smartcard_route.negotiation.FormatNegotiation",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Smartcard Route API",
    "DESCRIPTION": "Smartcard issues along Community Pharmacy England's resolution and escalation route.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # /api/docs/ (issues.api.docs): Swagger UI from drf-spectacular-sidecar, never from a CDN; without
    # its online validator (an image from validator.swagger.io, which the CSP refuses) and deep links
    # (a link nested in each operation's button, an accessibility fault).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": False, "validatorUrl": "none"},
    # The API is documented as JSON in, JSON out: the form and multipart bodies DRF also parses are
    # not part of the contract (an empty form field is not JSON's empty string).
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "issues.api.errors.document_page_errors",
    ],
    # One name per choice set shared by several fields (the API's enums).
    "ENUM_NAME_OVERRIDES": {
        "IssueKindEnum": "issues.models.Kind",
        "IssueStateEnum": "issues.models.State",
        "EventKindEnum": "issues.models.EventKind",
        "TransitionEnum": "issues.route.TRANSITIONS",
        "TriageOutcomeEnum": "issues.models.TriageOutcome",
        "CaseStatusEnum": "issues.models.CaseStatus",
    },
}

# The load benchmark (bench/load.py): a bare view at /bench/bare/, the floor its pages are compared
# with, served by the same server. Never mounted unless this is set; the benchmark sets it.
BENCH_BARE_VIEW = env_bool("BENCH_BARE_VIEW", False)

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "smartcard_route.logging.JsonFormatter"}},
    "handlers": {"stdout": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout", "formatter": "json"}},
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
