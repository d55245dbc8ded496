"""One JSON line per request and per task: what ran, how long, for which user id. Never a
query string, a form value or an address: routes are logged as their pattern
(`members/<int:pk>/`), users by their id."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

request_logger = logging.getLogger("musterrolle.request")
task_logger = logging.getLogger("musterrolle.task")

# The user whose request is running: tasks it sends carry the id in a message header.
current_user_id: ContextVar[int | None] = ContextVar("current_user_id", default=None)
USER_HEADER = "musterrolle_user"


class RequestLogMiddleware:
    """First in the chain: times the whole request, and turns a database that is restarting
    into a page that says so (503) instead of a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.monotonic()
        request_id = request.headers.get("X-Request-ID", "")[:64] or uuid.uuid4().hex[:16]
        token = current_user_id.set(None)
        try:
            response = self.get_response(request)
        finally:
            current_user_id.reset(token)
        match = request.resolver_match
        request_logger.info(
            "request",
            extra={
                "event": "request",
                "request_id": request_id,
                "method": request.method,
                "route": match.route if match else None,
                "view": match.view_name if match else None,
                "status": response.status_code,
                "duration_ms": round(1000 * (time.monotonic() - started), 1),
                "user_id": _user_id(request),
            },
        )
        response["X-Request-ID"] = request_id
        return response

    def process_view(self, request: HttpRequest, *args: Any) -> None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            current_user_id.set(user.pk)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        return database_unavailable(exception)


def database_unavailable(exception: BaseException | None) -> HttpResponse | None:
    """The connection was lost (the database restarting) or could not be made: the request
    failed; the page says so and asks to try again. None for any other error, a deadlock or a
    lock timeout on a connection that still works included: those are errors to see."""
    if not isinstance(exception, OperationalError | InterfaceError):
        return None
    if connection.connection is not None and connection.is_usable():
        return None
    connection.close()  # a broken connection must not serve the next request
    logging.getLogger("musterrolle.database").error(
        "Database unreachable during a request: %s",
        type(exception).__name__,
        exc_info=exception,
        extra={"event": "database_unavailable"},
    )
    # Without the request: a context processor would ask the database again.
    response = HttpResponse(render_to_string("503.html"), status=503)
    response["Retry-After"] = "10"
    return response


def _user_id(request: HttpRequest) -> int | None:
    user = getattr(request, "user", None)
    try:
        return user.pk if user is not None and user.is_authenticated else None
    except (OperationalError, InterfaceError):  # the user could not be read: no id to log
        return None


class WithoutPersonalData(logging.Filter):
    """Django passes the request to its log records (`django.request` on every 4xx and 5xx,
    `django.security`): a JSON formatter would write its full path, query string included
    (search terms, addresses). Keep the method and the route's pattern instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            match = getattr(request, "resolver_match", None)
            record.request = f"{getattr(request, 'method', '')} {match.route if match else '?'}"
        if isinstance(record.msg, str) and (
            record.name == "django.request" or record.name.startswith("django.security.")
        ):
            # "Not Found: /path" and friends: the message is the path (no query string)
            # with ids; keep the kind of message and the status only.
            record.msg, record.args = record.msg.split(":", 1)[0], ()
        return True


_started: dict[str, float] = {}


def connect_task_signals() -> None:
    from celery.signals import before_task_publish, task_postrun, task_prerun, worker_ready

    before_task_publish.connect(_add_user, weak=False)
    task_prerun.connect(_task_started, weak=False)
    task_postrun.connect(_task_finished, weak=False)
    worker_ready.connect(_alive, weak=False)


def _alive(**kwargs: Any) -> None:
    """The worker's health check reads this file's age: the redispatch job runs every minute,
    so a worker that takes tasks touches it at least that often."""
    from django.conf import settings

    if path := settings.MUSTERROLLE_WORKER_ALIVE_FILE:
        Path(path).touch()


def _add_user(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    if headers is not None and (user_id := current_user_id.get()) is not None:
        headers.setdefault(USER_HEADER, user_id)


def _task_started(task_id: str, **kwargs: Any) -> None:
    _started[task_id] = time.monotonic()


def _task_finished(task_id: str, task: Any, state: str | None = None, **kwargs: Any) -> None:
    _alive()
    started = _started.pop(task_id, None)
    task_logger.info(
        "task",
        extra={
            "event": "task",
            "task": task.name,
            "task_id": task_id,
            "state": state,
            "retries": task.request.retries,
            "duration_ms": round(1000 * (time.monotonic() - started), 1) if started else None,
            "user_id": getattr(task.request, USER_HEADER, None)
            or (task.request.headers or {}).get(USER_HEADER),
        },
    )
