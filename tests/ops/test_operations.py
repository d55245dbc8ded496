"""Running it: the health endpoint, the JSON lines, tasks kept while the broker is gone, and
the page shown while the database restarts."""

import json
import logging
import socket

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from django.http import HttpResponse
from django.urls import path

from config.celery import app as celery_app
from ops import dispatch
from ops.models import PendingTask
from tests.factories import make_member
from tests.members.sheets import workbook_bytes

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def broker_gone(settings):
    """Celery talks to a Redis that is not there (tasks are not run at once)."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url = f"redis://127.0.0.1:{_closed_port()}/0"
    conf.task_always_eager = False
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _fresh_connections()
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager = saved
        _fresh_connections()


def _fresh_connections():
    """Celery keeps its broker connections and producers in pools: new ones for the new URL
    (the old ones are left open: kombu shares them between apps by URL)."""
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    dispatch._probe.at = float("-inf")


def test_health_reports_the_database_and_the_broker_separately(client, broker_gone):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False and body["broker"]["error"]
    # A web container's own check asks for the database only and stays healthy.
    assert client.get("/healthz?check=database").status_code == 200


def test_a_task_sent_while_the_broker_is_gone_is_kept_and_sent_when_it_is_back(
    broker_gone, django_capture_on_commit_callbacks
):
    from members import tasks

    with django_capture_on_commit_callbacks(execute=True):
        dispatch.enqueue(tasks.check_import, 41, {"A": "last_name"})
    kept = PendingTask.objects.get()
    assert (kept.name, kept.args) == ("members.check_import", [41, {"A": "last_name"}])
    # Still gone: the redispatch keeps it.
    assert dispatch.redispatch() == 0
    assert PendingTask.objects.get().args == [41, {"A": "last_name"}]


def test_redispatch_sends_what_was_kept_oldest_first(monkeypatch):
    """Tasks of another process (a newer release's) go out by name; the outbox's test shows a
    registered one running."""
    sent = []
    monkeypatch.setattr(celery_app, "send_task", lambda name, args: sent.append((name, args)))
    PendingTask.objects.create(name="elsewhere.first", args=[1, None])
    PendingTask.objects.create(name="elsewhere.second", args=[2])
    assert dispatch.redispatch() == 2
    assert sent == [("elsewhere.first", [1, None]), ("elsewhere.second", [2])]
    assert not PendingTask.objects.exists()


def _sheet():
    rows = [["1", "Muster", "Erika", "Weg 1", "04109", "Leipzig", "erika@example.org"]]
    return SimpleUploadedFile("mitglieder.xlsx", workbook_bytes(rows))


def test_an_upload_while_the_broker_is_gone_is_kept_and_the_progress_says_waiting(
    client, tree, board_sn, broker_gone, django_capture_on_commit_callbacks
):
    client.force_login(board_sn)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/divisions/{tree.sn.pk}/imports/new/", {"file": _sheet()}, follow=True
        )
    assert response.status_code == 200
    assert PendingTask.objects.filter(name="members.check_import").exists()
    batch_pk = PendingTask.objects.get().args[0]
    progress = client.get(f"/imports/{batch_pk}/progress/")
    assert progress.status_code == 200
    assert "Warten" in progress.text or "Waiting" in progress.text


def test_every_request_writes_one_json_line_without_query_or_personal_data(
    client, tree, board_sn, caplog
):
    member = make_member(tree.leipzig, first_name="Erika", last_name="Geheim")
    board = board_sn
    client.force_login(board)
    with caplog.at_level(logging.INFO, logger="musterrolle.request"):
        response = client.get(f"/divisions/{tree.sn.pk}/members/?q=Geheim")
    assert response.status_code == 200
    [line] = [r for r in caplog.records if r.name == "musterrolle.request"]
    assert line.event == "request"
    assert line.route == "divisions/<int:pk>/members/"
    assert line.status == 200 and line.user_id == board.pk and line.duration_ms > 0
    assert response["X-Request-ID"] == line.request_id
    from pythonjsonlogger.json import JsonFormatter

    text = JsonFormatter("%(message)s").format(line)
    assert json.loads(text)["user_id"] == board.pk
    assert "Geheim" not in text and "q=" not in text and member.email not in text


def test_a_task_writes_one_line_with_its_duration_and_the_user_who_started_it(
    client, tree, board_sn, caplog, django_capture_on_commit_callbacks
):
    board = board_sn
    client.force_login(board)
    with (
        caplog.at_level(logging.INFO, logger="musterrolle.task"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        client.post(f"/divisions/{tree.sn.pk}/imports/new/", {"file": _sheet()})
    [line] = [r for r in caplog.records if r.name == "musterrolle.task"]
    assert line.task == "members.check_import" and line.state == "SUCCESS"
    assert line.duration_ms >= 0
    assert line.user_id == board.pk


urlpatterns = [
    path("gone/", lambda request: (_ for _ in ()).throw(OperationalError("server closed"))),
    path("fine/", lambda request: HttpResponse("fine")),
]


@pytest.mark.urls("tests.ops.test_operations")
def test_a_request_that_loses_the_database_gets_a_page_that_says_so(client, monkeypatch):
    from django.db import connection

    monkeypatch.setattr(connection, "is_usable", lambda: False)  # the server went away
    response = client.get("/gone/")
    assert response.status_code == 503
    assert response["Retry-After"]
    assert "Datenbank war gerade nicht erreichbar" in response.text
    # The next request gets a new connection.
    assert client.get("/fine/").status_code == 200


def test_django_s_own_error_lines_carry_no_query_string(client, tree, board_sn):
    """Django logs every 4xx with the request: the JSON line keeps method and route only."""
    import io

    from pythonjsonlogger.json import JsonFormatter

    from ops.logs import WithoutPersonalData

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(WithoutPersonalData())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        client.force_login(board_sn)
        response = client.get("/members/999999/?q=Erika+Mustermann&email=erika%40example.org")
    finally:
        logger.removeHandler(handler)
    assert response.status_code == 404
    text = stream.getvalue()
    assert text, "Django logged nothing for the 404"
    assert "Mustermann" not in text and "erika" not in text and "q=" not in text
    line = json.loads(text.splitlines()[0])
    assert line["request"] == "GET members/<int:pk>/"


@pytest.mark.urls("tests.ops.test_operations")
def test_an_error_on_a_working_connection_is_not_hidden_behind_the_503_page(client):
    """A deadlock or lock timeout is an OperationalError on a connection that still works: it
    is a server error to see, not "the database is restarting"."""
    client.raise_request_exception = False
    assert client.get("/gone/").status_code == 500
