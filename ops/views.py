import sys
import time

from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from ops import logs
from ops.dispatch import broker_ping


def healthz(request: HttpRequest) -> JsonResponse:
    """The database and the broker, each checked on its own: 200 when both answer, else 503
    with the one that failed. `?check=database` (or `broker`) checks one, for a web
    container's health check that should not fail because of Redis."""
    wanted = request.GET.get("check")
    checks = {"database": _database, "broker": broker_ping}
    result = {}
    for name, check in checks.items():
        if wanted and wanted != name:
            continue
        started = time.monotonic()
        error = check()
        result[name] = {
            "ok": error is None,
            "ms": round(1000 * (time.monotonic() - started), 1),
            **({"error": error} if error else {}),
        }
    healthy = all(part["ok"] for part in result.values())
    return JsonResponse({"ok": healthy, **result}, status=200 if healthy else 503)


def _database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # the database's errors are many; all mean "down"
        connection.close()
        return type(error).__name__
    return None


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler: a database error raised outside a view (in a middleware reading the
    user or writing the access log) gets the same 503 page as one raised inside."""
    return logs.database_unavailable(sys.exc_info()[1]) or defaults.server_error(request)
