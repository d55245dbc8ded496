"""One flow across a real Celery worker and the real Redis broker (skipped without REDIS_URL)."""

import json
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, transaction

from config.celery import app as celery_app
from outbox import services as outbox
from outbox.models import OutboundEmail

pytestmark = [
    pytest.mark.worker,
    # Real workers share one broker queue: under xdist, these tests run in one process.
    pytest.mark.xdist_group("celery-worker"),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis server (REDIS_URL)"),
]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker(transactional_db, tmp_path):
    yield from _worker(tmp_path, pool=["--pool=solo"])


@pytest.fixture
def two_workers(transactional_db, tmp_path):
    """One worker process running two tasks at the same time."""
    yield from _worker(tmp_path, pool=["--pool=threads", "--concurrency=2"])


def _worker(tmp_path, pool, **extra_env):
    process = _start_worker(tmp_path, pool, **extra_env)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield tmp_path / "mail"
    finally:
        celery_app.conf.task_always_eager = eager
        _stop(process)


def _stop(process, kill=False):
    if kill:
        process.kill()
    else:
        process.terminate()
    output, _ = process.communicate(timeout=20)
    print(output.decode(errors="replace")[-3000:])


def _start_worker(tmp_path, pool, **extra_env):
    if connection.vendor == "sqlite":
        pytest.skip("the worker needs a database server it can share with the test (DATABASE_URL)")
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "MUSTERROLLE_TESTING": "1",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "MAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "MAIL_OPTIONS": json.dumps({"file_path": str(tmp_path / "mail")}),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        **extra_env,
    }
    process = subprocess.Popen(  # noqa: S603 - our own worker, fixed arguments
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            *pool,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return process


def test_email_queued_in_a_transaction_is_sent_by_the_worker(worker):
    with transaction.atomic():
        email = outbox.queue(to=["worker@example.org"], subject="Über den Worker", text="Hallo")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        email.refresh_from_db()
        if email.status == OutboundEmail.Status.SENT:
            break
        time.sleep(0.2)
    assert email.status == OutboundEmail.Status.SENT
    files = list(worker.glob("*.log"))
    assert len(files) == 1
    assert "worker@example.org" in files[0].read_text()


@pytest.fixture
def worker_with_broken_mailer(transactional_db, tmp_path):
    process = _start_worker(
        tmp_path,
        ["--pool=solo"],
        MAIL_BACKEND="tests.outbox.broken.EmailBackend",
        MAIL_OPTIONS="{}",
    )
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    try:
        yield process
    finally:
        celery_app.conf.task_always_eager = eager
        _stop(process)


def test_a_failing_mailer_keeps_the_email_queued_for_a_retry_and_the_worker_alive(
    worker_with_broken_mailer,
):
    with transaction.atomic():
        email = outbox.queue(to=["worker@example.org"], subject="Kommt später", text="Hallo")

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        email.refresh_from_db()
        if email.attempts:
            break
        time.sleep(0.2)
    assert (email.status, email.attempts) == (OutboundEmail.Status.QUEUED, 1)
    assert email.error == "ConnectionRefusedError: refused by the test mailer"
    assert worker_with_broken_mailer.poll() is None  # the worker goes on, the retry waits


def test_statements_enqueued_twice_at_once_are_sent_once(two_workers, tree):
    from datetime import date
    from decimal import Decimal

    from finance.models import FeeRule, MonthlyStatement
    from finance.tasks import send_statements
    from tests.factories import make_member, make_user

    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    make_member(tree.leipzig, joined_on=date(2020, 1, 1))
    recipients = [
        make_user(f"vorstand{i}@example.org", tree.sn, "board", mfa=False).email for i in range(3)
    ]
    send_statements.delay("2026-10-01")
    send_statements.delay("2026-10-01")

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        sent = OutboundEmail.objects.filter(status=OutboundEmail.Status.SENT).count()
        if sent >= len(recipients) and MonthlyStatement.objects.filter(status="sent").count() == 2:
            break
        time.sleep(0.3)
    time.sleep(2)  # let the second task finish, too
    statement = MonthlyStatement.objects.get(division=tree.sn, period=date(2026, 10, 1))
    assert sorted(statement.recipients) == sorted(recipients)
    assert sorted(e.to[0] for e in OutboundEmail.objects.all()) == sorted(
        recipients
    )  # Schleswig-Holstein has no board here
    # Django's file mailer may put messages of the same second into one file: count messages.
    written = "".join(path.read_text() for path in two_workers.glob("*.log"))
    assert sorted(re.findall(r"^To: (.+)$", written, re.M)) == sorted(recipients)


def test_a_mailing_survives_a_killed_worker_without_sending_anyone_twice(
    transactional_db, tmp_path, tree
):
    """Start a mailing of a few hundred, SIGKILL the worker mid-send, start a new one: every
    recipient ends with exactly one sent delivery, and the "provider" accepted each once."""
    from mailings import services
    from mailings.models import Delivery, Mailing
    from members.models import Member
    from members.services import fill_states
    from tests.factories import make_user
    from tests.mailings.recording import CREATE, TABLE

    board = make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    Member.objects.bulk_create(
        Member(
            membership_number=200000 + n,
            first_name=f"Vorname{n}",
            last_name=f"Nachname{n}",
            email=f"mitglied{n}@example.org",
            division=tree.leipzig if n % 2 else tree.dresden,
            joined_on="2020-01-01",
            status="active",
        )
        for n in range(300)
    )
    fill_states()  # as after every bulk write: boards reach members by their state
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(CREATE)

    def accepted():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT delivery, message_id FROM {TABLE}")  # noqa: S608
            return cursor.fetchall()

    env = {
        "MAIL_BACKEND": "tests.mailings.recording.EmailBackend",
        "MAIL_OPTIONS": "{}",
        "MAILING_BATCH_SIZE": "20",
        "MAILING_RATE_PER_MINUTE": "1000000",
        "MAILING_CLAIM_LEASE": "2",
    }
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    first = _start_worker(tmp_path, ["--pool=solo"], **env)
    second = None
    try:
        with transaction.atomic():
            mailing = services.create_mailing(
                by=board,
                division=tree.sn,
                values={
                    "kind": "official",
                    "sender_name": "Landesverband Sachsen",
                    "reply_to": "lv@example.org",
                    "subject": "Einladung",
                    "body": "Hallo {{ vorname }}",
                },
            )
            services.request_sending(by=board, mailing=mailing)
        deadline = time.monotonic() + 60
        while len(accepted()) < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        _stop(first, kill=True)  # SIGKILL, mid-send
        at_kill = len(accepted())
        assert 100 <= at_kill < 300, "the worker should have died mid-send"

        second = _start_worker(tmp_path, ["--pool=solo"], **env)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            mailing.refresh_from_db()
            if mailing.status == Mailing.Status.SENT:
                break
            time.sleep(0.3)
    finally:
        celery_app.conf.task_always_eager = eager
        if second is not None:
            _stop(second)

    assert mailing.status == Mailing.Status.SENT
    deliveries = dict(Delivery.objects.filter(mailing=mailing).values_list("pk", "message_id"))
    assert len(deliveries) == 300
    assert set(Delivery.objects.values_list("status", flat=True)) == {Delivery.Status.SENT}
    rows = accepted()
    assert len(rows) == 300, "someone got the mailing twice, or not at all"
    assert {int(delivery): message_id for delivery, message_id in rows} == deliveries
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {TABLE}")


def test_a_collection_started_in_the_admin_is_made_by_the_worker(worker, tree):
    """The federal office starts a direct-debit collection; the worker makes it and reports
    its progress through the cache the admin page reads (Redis, shared by both)."""
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from finance import sepa
    from finance.models import Collection, FeeRule
    from members.services import register
    from tests.factories import make_user

    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    today = timezone.localdate()
    nora = register.admit_member(
        by=None,
        division=tree.leipzig,
        values={"first_name": "Nora", "last_name": "Neu", "email": ""},
        joined_on=today,
    )
    sepa.record_mandate(
        member=nora, iban="DE89370400440532013000", holder="Nora Neu", signed_on=today, by=None
    )
    office = make_user("bund@example.org", None, None, federal=True, mfa=False)
    with transaction.atomic():
        token = sepa.start_run(due_on=today + timedelta(days=20), division=None, by=office)
    deadline = time.monotonic() + 30
    state = sepa.run_state(token)
    while time.monotonic() < deadline and not ({"collection", "error"} & set(state or {})):
        time.sleep(0.2)
        state = sepa.run_state(token)
    assert state is not None and "error" not in state, state
    collection = Collection.objects.get(pk=state["collection"])
    assert (collection.count, state["percent"]) == (1, 100)
    sepa.validate_xml(collection.xml)
