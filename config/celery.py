import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("musterrolle")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# The schedule lives in code so that it is reviewed like code. Times are Europe/Berlin
# (CELERY_TIMEZONE). Later issues add the monthly statements and retention jobs here.
app.conf.beat_schedule = {}
