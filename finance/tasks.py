from celery import shared_task
from django.utils import timezone


@shared_task(name="finance.run_dues")
def run_dues(year: int | None = None) -> None:
    from finance import services

    services.run_dues(year=year or timezone.localdate().year)
