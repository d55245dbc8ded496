from celery import shared_task


@shared_task(name="mailings.send_email")
def send_email(email_id: int) -> None:
    from mailings import outbox

    outbox.send_email(email_id=email_id)


@shared_task(name="mailings.requeue_stuck")
def requeue_stuck() -> None:
    from mailings import outbox

    outbox.requeue_stuck()
