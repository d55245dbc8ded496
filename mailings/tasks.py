from celery import shared_task

MAX_RETRIES = 5


@shared_task(bind=True, name="mailings.send_email", max_retries=MAX_RETRIES)
def send_email(self, email_id: int) -> None:
    from mailings import outbox

    if outbox.send_email(email_id=email_id) == "retry":
        # Back off: 1, 2, 4, 8 minutes. The row is queued again, so whichever try comes
        # first claims it; the others find nothing to do.
        raise self.retry(countdown=60 * 2**self.request.retries)


@shared_task(name="mailings.requeue_stuck")
def requeue_stuck() -> None:
    from mailings import outbox

    outbox.requeue_stuck()
