from celery import shared_task


@shared_task(name="mailings.send_batch")
def send_batch(mailing_id: int, chain: str) -> None:
    """One batch of a mailing, then the next one as a new task, at the configured rate.

    Without a broker (tasks run eagerly: `make run`, tests) the batches run in a loop."""
    import time

    from django.conf import settings

    from config.celery import app
    from mailings import sending

    interval = 60 * settings.MAILING_BATCH_SIZE / settings.MAILING_RATE_PER_MINUTE
    while True:
        started = time.monotonic()
        result = sending.send_batch(mailing_id, chain)
        if result.outcome in ("done", "stopped"):
            return
        if app.conf.task_always_eager:
            if result.outcome == "wait":
                return
            continue
        wait = interval - (time.monotonic() - started)
        if result.outcome == "wait":  # another worker holds claims: look again later
            wait = settings.MAILING_CLAIM_LEASE
        send_batch.apply_async((mailing_id, chain), countdown=max(0.0, wait))
        return


@shared_task(name="mailings.resume_sending")
def resume_sending() -> None:
    """Pick up mailings whose sending worker went away (scheduled, and at worker start)."""
    from mailings import sending

    sending.resume_abandoned()


@shared_task(name="mailings.repair_audience_figures")
def repair_audience_figures() -> None:
    """Weekly: the audience figures recomputed from the members (drift is a defect, logged)."""
    from mailings import audience

    audience.repair()
