"""The Celery application. Tasks live in each app's tasks.py; the beat schedule is in settings."""

import os

from celery import Celery
from celery.signals import task_failure

from smartcard_route.monitoring import on_task_failure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "smartcard_route.settings")

app = Celery("smartcard_route")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Failed tasks are counted where the web's /metrics can read them (smartcard_route.monitoring).
task_failure.connect(on_task_failure, dispatch_uid="smartcard_route.monitoring.task_failure")
