"""The outbox's tasks. Their names date from when the outbox lived in `mailings`: tasks with
these names may still wait in a broker's queue, so they stay."""

from celery import shared_task

from outbox import services


@shared_task(bind=True, name="mailings.send_email", max_retries=services.MAX_ATTEMPTS)
def send_email(self, email_id: int) -> None:
    if services.send_email(email_id=email_id) == "retry" and not self.request.is_eager:
        # Back off: 1, 2, 4, 8 minutes. The row is queued again, so whichever try comes first
        # claims it; the others find nothing to do. Run at once (no broker), the row waits for
        # the safety net instead: the caller must not fail because a mailer did.
        raise self.retry(countdown=60 * 2**self.request.retries)


@shared_task(name="mailings.requeue_stuck")
def requeue_stuck() -> None:
    services.requeue_stuck()
