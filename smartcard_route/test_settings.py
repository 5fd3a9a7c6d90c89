"""Settings for the test suite: the real settings, with a fixed key and fast password hashing.

DATABASE_URL, CELERY_BROKER_URL and REDIS_URL still come from the environment, so `make test`
runs on PostgreSQL and Redis in CI and on SQLite and the filesystem broker elsewhere.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production")
os.environ.setdefault("SECURE_SSL_REDIRECT", "False")
os.environ.setdefault("SESSION_COOKIE_SECURE", "False")
os.environ.setdefault("CSRF_COOKIE_SECURE", "False")
os.environ.setdefault("STATIC_MANIFEST", "False")

from smartcard_route.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A worker started as a subprocess by a test cannot share locmem's outbox: such tests set
# TEST_EMAIL_BACKEND (e.g. the file backend, under VAR_DIR/mail) to see what it sent.
EMAIL_BACKEND = os.environ.get("TEST_EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
WHITENOISE_AUTOREFRESH = True
ALLOWED_HOSTS = ["*"]
LOGGING = {"version": 1, "disable_existing_loggers": False}

# Each pytest-xdist process has its own test database, so its Celery worker must only take its own tasks.
CELERY_TASK_DEFAULT_QUEUE = "smartcard-test-" + os.environ.get("PYTEST_XDIST_WORKER", "main")

# The monitoring cache (Redis when REDIS_URL is set) is shared by every test process: each has its
# own keys. Never clear() it in a test: on Redis that empties the whole database, the broker's too.
CACHES["monitoring"]["KEY_PREFIX"] = "test-monitoring-" + os.environ.get("PYTEST_XDIST_WORKER", "main")  # noqa: F405
