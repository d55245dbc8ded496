"""Hand a task to the broker after the transaction commits, without ever failing the request.

When Redis is gone, `.delay()` raises after its retries; in an `on_commit` hook that would turn
a page whose work is already committed into an error page, and the task would be lost. Here
the task is kept as a `PendingTask` row instead and sent by `redispatch` (every minute, and
when a worker starts) once the broker answers again.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task
from django.db import InterfaceError as DjangoInterfaceError
from django.db import OperationalError as DjangoOperationalError
from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from ops import logs
from ops.models import PendingTask

logger = logging.getLogger(__name__)


def enqueue(task: Task, *args: Any) -> None:
    """Send `task(*args)` once the surrounding transaction has committed (at once outside one)."""
    user_id = logs.current_user_id.get()  # the request's, for the task's log line
    transaction.on_commit(lambda: send(task.name, list(args), task=task, user_id=user_id))


def send(
    name: str, args: list[Any], *, task: Task | None = None, user_id: int | None = None
) -> bool:
    """Send now; keep the task for later when the broker cannot be reached."""
    if task is None:
        from config.celery import app

        task = app.tasks.get(name)  # a registered task runs at once where tasks are eager
    from django.conf import settings

    if not settings.CELERY_TASK_ALWAYS_EAGER and not broker_reachable():
        # Known to be gone (the probe is a few seconds old): keep it at once instead of waiting
        # for the publish to give up, which would hold a request queueing many e-mails.
        PendingTask.objects.create(name=name, args=args, error="broker unreachable")
        return False
    try:
        if task is not None:
            # Eager in development and tests: runs here.
            task.apply_async(args, headers={logs.USER_HEADER: user_id})
        else:
            from config.celery import app

            app.send_task(name, args)
    except BrokerError as error:
        logger.warning("Broker unreachable; task %s kept to be sent later", name)
        _probe.down()
        PendingTask.objects.create(name=name, args=args, error=str(error)[:500])
        return False
    return True


def redispatch(limit: int = 1000) -> int:
    """Send the kept tasks, oldest first; stop at the first that still cannot go."""
    sent = 0
    for pending in PendingTask.objects.all()[:limit]:
        # Deleted first: should the send fail, `send` keeps it again; should this process die
        # between the two, the task is lost rather than run twice by two redispatchers.
        if not PendingTask.objects.filter(pk=pending.pk).delete()[0]:
            continue  # another redispatcher took it
        if not send(pending.name, pending.args):
            break
        sent += 1
    return sent


def broker_reachable() -> bool:
    """Whether the broker answers now (cached for a few seconds per process)."""
    return _probe.check()


class _Probe:
    TTL = 5.0

    def __init__(self) -> None:
        self.at = -self.TTL
        self.ok = True

    def check(self) -> bool:
        import time

        from django.conf import settings

        if settings.CELERY_TASK_ALWAYS_EAGER:
            return True
        now = time.monotonic()
        if now - self.at >= self.TTL:
            self.ok, self.at = broker_ping() is None, now
        return self.ok

    def down(self) -> None:
        import time

        self.ok, self.at = False, time.monotonic()


_probe = _Probe()


def broker_ping() -> str | None:
    """None when the broker answers, else the reason."""
    from config.celery import app

    try:
        with app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
    except Exception as error:  # every transport has its own errors
        return type(error).__name__
    return None


# Task options for work that must survive the database restarting under it: the task's
# transaction was rolled back, so it is simply run again (1, 2, 4 … 60 s, eight times). Celery's
# Django fix-up closes the broken connection after each try.
DATABASE_RETRY: dict[str, Any] = {
    "autoretry_for": (DjangoOperationalError, DjangoInterfaceError),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": False,
    "max_retries": 8,
}
