"""`make bench` (scripts/bench runs this once per size): board pages against a synthetic
register of BENCH_MEMBERS members.

Prints one line per scenario:
    BENCH <scenario> members=<n> p50_ms=<x> p95_ms=<y> queries=<q>
and where the time of each page goes:
    BENCH share <scenario> sql_ms=<x> template_ms=<y> python_ms=<z>
With --pages-only it measures the page scenarios alone; with --results FILE it also writes
them as JSON lines, from which scripts/bench prints the growth between two sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("MUSTERROLLE_TESTING", "1")  # simple static storage, no TLS redirect
os.environ["DJANGO_DEBUG"] = "0"
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,127.0.0.1")
# E-mails the bench causes (the demo's invitations, statements) go nowhere, on purpose.
os.environ["MAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"

import django  # noqa: E402

django.setup()

from allauth.mfa.models import Authenticator  # noqa: E402
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.generate import ensure_register  # noqa: E402
from members import physical_order  # noqa: E402
from members.demo_data import LAST_NAMES  # noqa: E402
from members.middleware import SESSION_FLAG  # noqa: E402
from members.models import Division, Member, Role, RoleAssignment, User  # noqa: E402

# This machine's timings vary by a third from one second to the next: a hundred requests per
# page give a median that repeats, and the growth between two sizes means something.
RUNS = int(os.environ.get("BENCH_RUNS", "100"))
RESULTS: list[dict[str, Any]] = []
STATE = os.environ.get("BENCH_STATE", "NW")  # the largest state: the hardest case


def board_client(state: Division) -> Client:
    user, _ = User.objects.get_or_create(email=f"bench-board-{state.code.lower()}@example.org")
    RoleAssignment.objects.get_or_create(
        user=user, division=state, role=Role.BOARD, defaults={"valid_from": "2020-01-01"}
    )
    if not Authenticator.objects.filter(user=user).exists():
        TOTP.activate(user, generate_totp_secret())
    client = Client()
    client.force_login(user)
    session = client.session
    session[SESSION_FLAG] = True  # as after a login with the second factor
    session.save()
    return client


class Timer:
    """SQL time of a request, and the time its top-level templates took less their SQL."""

    def __init__(self) -> None:
        self.sql = 0.0
        self.template = 0.0
        self._sql_in_template = 0.0
        self._in_template = False

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            self.sql += spent
            if self._in_template:
                self._sql_in_template += spent

    def wrap_templates(self) -> Any:
        from unittest import mock

        from django.template.backends.django import Template

        original = Template.render
        timer = self

        def render(template: Any, *args: Any, **kwargs: Any) -> Any:
            if timer._in_template:  # a template rendered inside another one
                return original(template, *args, **kwargs)
            timer._in_template = True
            started, sql_before = time.perf_counter(), timer._sql_in_template
            try:
                return original(template, *args, **kwargs)
            finally:
                timer._in_template = False
                spent = time.perf_counter() - started
                timer.template += spent - (timer._sql_in_template - sql_before)

        return mock.patch.object(Template, "render", render)


def measure(name: str, members: int, client: Client, urls: Callable[[int], str]) -> None:
    for i in range(10):  # warm caches and connections
        client.get(urls(i))
    timings = []
    for i in range(RUNS):
        url = urls(i)
        started = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{name}: {url} answered {response.status_code}")
    with CaptureQueriesContext(connection) as ctx:
        client.get(urls(RUNS))
    queries = len(ctx.captured_queries)  # read now: the next request empties the log
    # Where the time goes, in separate runs (the timing wrappers cost a little themselves).
    timer = Timer()
    shares = max(5, RUNS // 4)
    with connection.execute_wrapper(timer), timer.wrap_templates():
        started = time.perf_counter()
        for i in range(shares):
            client.get(urls(i))
        total = (time.perf_counter() - started) * 1000 / shares
    sql_ms, template_ms = timer.sql * 1000 / shares, timer.template * 1000 / shares
    p50 = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[18]
    print(
        f"BENCH {name} members={members} p50_ms={p50:.1f} p95_ms={p95:.1f} queries={queries}",
        flush=True,
    )
    print(
        f"BENCH share {name} sql_ms={sql_ms:.1f} template_ms={template_ms:.1f} "
        f"python_ms={max(0.0, total - sql_ms - template_ms):.1f}",
        flush=True,
    )
    RESULTS.append({"scenario": name, "members": members, "p50_ms": p50})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--members", type=int, default=int(os.environ.get("BENCH_MEMBERS", "500000"))
    )
    parser.add_argument("--pages-only", action="store_true", help="only the page scenarios")
    parser.add_argument("--results", help="append the page results to this file as JSON lines")
    options = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit(
            "make bench needs PostgreSQL (DATABASE_URL); `make bench` starts one for you."
        )
    total = options.members
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seconds = ensure_register(total)
    if seconds is not None:
        print(f"BENCH generate members={total} seconds={seconds:.1f}", flush=True)
    if not physical_order.is_ordered():
        # As the weekly job leaves the member table in production (members.physical_order).
        seconds = physical_order.rewrite(lock_timeout_ms=60_000)
        print(f"BENCH reorder_register members={total} seconds={seconds:.1f}", flush=True)
    with connection.cursor() as cursor:
        # What autovacuum keeps up in production: earlier runs (statement imports update
        # members) would otherwise leave the visibility map stale and slow every count.
        cursor.execute(
            "VACUUM ANALYZE members_member, finance_payment, finance_charge, "
            "members_divisiontally, members_divisionday, members_divisionmonth"
        )
        # A running server keeps the register's pages in memory; the bench's server has just
        # started. Load the tables and indexes the board pages read (pg_prewarm, shipped with
        # PostgreSQL), so the pages are measured as a board meets them, not cold.
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cursor.execute(
            """
            SELECT pg_prewarm(c.oid) FROM pg_class c
            WHERE c.relname = ANY(%(tables)s) OR c.oid IN (
                SELECT i.indexrelid FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
                WHERE t.relname = ANY(%(tables)s)
            )
            """,
            {
                "tables": [
                    "members_member",
                    "members_division",
                    "members_roleassignment",
                    "members_divisiontally",
                    "members_divisionday",
                    "members_divisionmonth",
                ]
            },
        )
    state = Division.objects.get(code=STATE)
    client = board_client(state)
    rng = random.Random(1)
    ids = list(
        Member.objects.filter(division__path__startswith=state.path).values_list("pk", flat=True)[
            :5000
        ]
    )
    names = [name.lower() for name in LAST_NAMES]
    list_url = reverse("members:member_list", args=[state.pk])
    measure("member_list", total, client, lambda i: f"{list_url}?page={1 + i % 20}")
    measure("member_search", total, client, lambda i: f"{list_url}?q={rng.choice(names)}")
    measure(
        "member_detail",
        total,
        client,
        lambda i: reverse("members:member_detail", args=[rng.choice(ids)]),
    )
    measure(
        "dashboard", total, client, lambda i: reverse("members:division_detail", args=[state.pk])
    )
    measure(
        "member_list_with_status",
        total,
        client,
        lambda i: f"{list_url}?payment=in_arrears&page={1 + i % 10}",
    )
    measure(
        "mailing_audience",
        total,
        client,
        lambda i: (
            reverse("mailings:audience_count", args=[state.pk])
            + ("?kind=newsletter" if i % 2 else "?kind=official&fee_classes=regular")
        ),
    )
    if options.results:
        with open(options.results, "a") as results:
            for result in RESULTS:
                results.write(json.dumps(result) + "\n")
    if options.pages_only:
        return
    bench_http(state, ids, total)
    bench_mailings(Division.objects.get(depth=1))
    bench_import(state)
    bench_export(state)
    bench_camt(state)
    bench_statements(total)
    bench_sepa_collect()
    bench_receipts()
    bench_eligibility(total)
    bench_checkin(state, client)
    bench_switchover()
    bench_subject_access(state)
    bench_retention_dry_run(total)
    bench_simulate_year()


def bench_http(state: Division, ids: list[int], total: int) -> None:
    """The board pages through gunicorn (2 workers, production settings) over loopback: what a
    browser waits for, and how many bytes each page weighs."""
    import http.client
    import socket
    import subprocess
    import tempfile
    from urllib.parse import urlencode

    from django.conf import settings

    client = board_client(state)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    bin_dir = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as static_root:
        env = {
            **os.environ,
            "DJANGO_DEBUG": "0",
            # The bench's own key: the session it made signs with it.
            "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            "MUSTERROLLE_SITE_URL": "https://mitglieder.example.org",
            "MUSTERROLLE_STATIC_ROOT": static_root,
            "MUSTERROLLE_TESTING": "0",
        }
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        server = subprocess.Popen(  # noqa: S603 - our own server, fixed arguments
            [
                str(bin_dir / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(port)
            list_url = reverse("members:member_list", args=[state.pk])
            rng = random.Random(4)
            names = [name.lower() for name in LAST_NAMES]
            numbers = list(
                Member.objects.filter(pk__in=ids[:500]).values_list("membership_number", flat=True)
            )
            pages = {
                "member_list": lambda i: f"{list_url}?page={1 + i % 20}",
                "search_name": lambda i: f"{list_url}?{urlencode({'q': rng.choice(names)})}",
                "search_number": lambda i: f"{list_url}?q={rng.choice(numbers)}",
                "dashboard": lambda i: reverse("members:division_detail", args=[state.pk]),
                "member_detail": lambda i: reverse("members:member_detail", args=[rng.choice(ids)]),
            }
            for name, urls in pages.items():
                timings, size = [], 0
                for i in range(RUNS + 3):
                    connection_ = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    started = time.perf_counter()
                    connection_.request(
                        "GET", urls(i), headers={"Cookie": cookie, "X-Forwarded-Proto": "https"}
                    )
                    response = connection_.getresponse()
                    body = response.read()
                    elapsed = (time.perf_counter() - started) * 1000
                    connection_.close()
                    if response.status != 200:
                        raise SystemExit(f"http_{name}: {urls(i)} answered {response.status}")
                    if i >= 3:  # the first ones warm the workers
                        timings.append(elapsed)
                        size = max(size, len(body))
                p50 = statistics.median(timings)
                p95 = statistics.quantiles(timings, n=20)[18]
                print(
                    f"BENCH http_{name} members={total} p50_ms={p50:.1f} "
                    f"p95_ms={p95:.1f} bytes={size}",
                    flush=True,
                )
        finally:
            server.terminate()
            server.wait(timeout=30)


def _wait_for(port: int) -> None:
    import http.client

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            probe.request("GET", "/healthz")
            if probe.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer within 60 s")


def bench_mailings(federal: Division) -> None:
    """Freeze the federal party's audience (every member with an address) into deliveries;
    send 10,000 of them through anymail's test backend."""
    import tracemalloc
    from unittest import mock

    from django.core import mail
    from django.test import override_settings

    from mailings import sending, services, tasks
    from mailings.models import Mailing

    board, _ = User.objects.get_or_create(email="bench-board-federal@example.org")
    RoleAssignment.objects.get_or_create(
        user=board, division=federal, role=Role.BOARD, defaults={"valid_from": "2020-01-01"}
    )
    for old in Mailing.objects.filter(created_by=board):
        _drop(old)
    values = {
        "kind": "official",
        "sender_name": "Landesvorstand",
        "reply_to": "vorstand@example.org",
        "subject": "Einladung, {{ vorname }}",
        "body": "Hallo {{ vorname }},\n\n**Einladung** zum [Parteitag](https://example.org).",
        "audience": {},
    }
    # The first batch goes to the broker after the commit; here nobody takes it.
    with mock.patch.object(tasks.send_batch, "delay"):
        mailing = services.create_mailing(by=board, division=federal, values=values)
        started = time.perf_counter()
        services.request_sending(by=board, mailing=mailing)
        seconds = time.perf_counter() - started
        mailing.refresh_from_db()
        print(f"BENCH mailing_enqueue recipients={mailing.total} seconds={seconds:.1f}", flush=True)

        count = int(os.environ.get("BENCH_MAILING_SEND", "10000"))
        test_backend = {"default": {"BACKEND": "anymail.backends.test.EmailBackend"}}
        with override_settings(MAILERS=test_backend):

            def send(n: int) -> None:
                for _ in range(n // 100):
                    sending.send_batch(mailing.pk, mailing.chain, size=100)
                    mail.outbox.clear()  # the "provider" keeps nothing

            mail.outbox = []
            started = time.perf_counter()
            send(count)
            seconds = time.perf_counter() - started
            # Memory in a second run (tracing slows it down): flat means it does not grow
            # with the number of messages.
            tracemalloc.start()
            send(count)
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    print(
        f"BENCH mailing_send recipients={count} ms_per_message={1000 * seconds / count:.2f} "
        f"peak_mb={peak / 1e6:.1f}",
        flush=True,
    )
    _drop(mailing)


def _drop(mailing: Any) -> None:
    """Remove the bench's mailing in SQL: the ORM would load every delivery to delete it."""
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM mailings_delivery WHERE mailing_id = %s", [mailing.pk])
    mailing.delete()


def _sheet(state: Division, rows: int) -> bytes:
    """A board's sheet: half existing members (some changed), half new people."""
    import io

    from openpyxl import Workbook

    rng = random.Random(2)
    existing = list(
        Member.objects.filter(division__path__startswith=state.path)
        .order_by("pk")
        .values_list(
            "membership_number", "first_name", "last_name", "street", "postal_code", "city"
        )[: rows // 2]
    )
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(["Mitgliederliste"])
    sheet.append(["Mitgl.-Nr.", "Vorname", "Name", "Straße", "PLZ", "Ort", "E-Mail", "Geb.-Datum"])
    for number, first, last, street, postal, city in existing:
        if rng.random() < 0.2:
            street = f"Neue Straße {rng.randint(1, 99)}"
        sheet.append([number, first, last, street, postal, city, None, None])
    for i in range(rows - len(existing)):
        born = f"{1 + i % 28}.{1 + i % 12}.19{50 + i % 50}"
        sheet.append(
            [
                None,
                "Neu",
                f"Mitglied{i}",
                f"Weg {i % 90 + 1}",
                "50667",
                "Köln",
                f"neu{i}@example.org",
                born,
            ]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def bench_import(state: Division) -> None:
    from members import imports

    rows = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))
    board = User.objects.get(email=f"bench-board-{state.code.lower()}@example.org")
    content = _sheet(state, rows)
    started = time.perf_counter()
    batch = imports.create_batch(by=board, division=state, content=content, filename="bench.xlsx")
    batch = imports.check_batch(batch_id=batch.pk)
    seconds = time.perf_counter() - started
    if batch.total_rows != rows:
        raise SystemExit(
            f"import_validate: read {batch.total_rows} rows, expected {rows}: {batch.error}"
        )
    print(f"BENCH import_validate rows={rows} seconds={seconds:.1f}", flush=True)


def bench_export(state: Division) -> None:
    import tracemalloc

    from members import exports

    count = int(os.environ.get("BENCH_EXPORT_MEMBERS", "100000"))
    members = Member.objects.filter(division__path__startswith=state.path).order_by("pk")[:count]
    started = time.perf_counter()
    handle, rows = exports.xlsx_file(members)
    seconds = time.perf_counter() - started
    handle.close()
    # Memory is measured in a second run: tracing allocations slows the export down.
    tracemalloc.start()
    handle, _rows = exports.xlsx_file(members)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    handle.close()
    print(
        f"BENCH export_xlsx members={rows} seconds={seconds:.1f} peak_mb={peak / 1e6:.1f}",
        flush=True,
    )


def bench_camt(state: Division) -> None:
    from finance import payments
    from tests.finance.statements import entry, statement

    count = int(os.environ.get("BENCH_CAMT_BOOKINGS", "10000"))
    rng = random.Random(3)
    numbers = list(
        Member.objects.filter(division__path__startswith=state.path).values_list(
            "membership_number", flat=True
        )[:20000]
    )
    entries = []
    for i in range(count):
        kind = i % 10
        if kind < 7:
            reference = f"MB2026 {rng.choice(numbers)}"  # the usual case
        elif kind < 9:
            reference = f"Mitgliedsbeitrag Nr.{rng.choice(numbers)} 2026"
        else:
            reference = "Spende"
        entries.append(
            entry(
                "120.00",
                ref=f"BENCH-{time.time_ns()}-{i}",
                reference=reference,
                name="Max Mustermann",
            )
        )
    content = statement(*entries, statement_id=f"bench-{time.time_ns()}")
    started = time.perf_counter()
    imported = payments.import_statement(content=content, filename="bench.xml", by=None)
    seconds = time.perf_counter() - started
    print(f"BENCH camt_import bookings={imported.booked} seconds={seconds:.1f}", flush=True)


def bench_statements(total: int) -> None:
    import resource

    from django.db import transaction

    from finance import statements
    from finance.models import MonthlyStatement
    from members.models import DivisionLevel

    period = statements.last_month(timezone.localdate())
    MonthlyStatement.objects.filter(period=period).delete()
    started = time.perf_counter()
    with transaction.atomic():
        made = statements.prepare_all(period)
    assert len(made) == Division.objects.filter(level=DivisionLevel.STATE).count()
    seconds = time.perf_counter() - started
    # The process's high-water mark (all the bench did so far included): an upper bound for
    # what making the statements needed; tracing allocations would slow it down too much.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"BENCH statements_all_states members={total} seconds={seconds:.1f} peak_mb={peak:.0f}",
        flush=True,
    )


def bench_sepa_collect() -> None:
    """A direct-debit collection of BENCH_SEPA_DEBITS members (200,000): the dry run's
    planning, the debits written, the pain.008 file built and checked against the schema.
    Its rows (next year's dues, mandates, the collection) are rolled back afterwards; the
    pre-notification e-mails are a task of their own and not part of it."""
    from datetime import timedelta
    from decimal import Decimal

    from django.db import transaction

    from finance import sepa
    from finance.models import Charge, Mandate
    from members.models import MemberStatus

    count = int(os.environ.get("BENCH_SEPA_DEBITS", "200000"))
    today = timezone.localdate()
    due_on = max(today + timedelta(days=20), today.replace(year=today.year + 1, month=1, day=10))
    members = list(
        # Members who owe nothing today: next year's dues are theirs to collect in full.
        Member.objects.exclude(status=MemberStatus.ENDED)
        .filter(balance=0)
        .exclude(mandates__isnull=False)
        .order_by("pk")
        .values_list("pk", "membership_number", "last_name")[:count]
    )
    with transaction.atomic():
        Charge.objects.bulk_create(
            [
                Charge(
                    member_id=pk,
                    year=due_on.year,
                    amount=Decimal("120.00"),
                    due_on=due_on,
                    overdue_on=due_on + timedelta(days=30),
                    memo="bench",
                )
                for pk, _number, _name in members
            ],
            batch_size=5000,
        )
        Mandate.objects.bulk_create(
            [
                Mandate(
                    member_id=pk,
                    reference=f"MR-{number}-1",
                    signed_on=today - timedelta(days=400),
                    holder=f"Bench {name}"[:70],
                    iban="DE89370400440532013000",
                    bic="COBADEFFXXX",
                )
                for pk, number, name in members
            ],
            batch_size=5000,
        )
        started = time.perf_counter()
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            with cProfile.Profile() as profile:
                collection, _plan = sepa.create(due_on=due_on, notify=False)
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        else:
            collection, _plan = sepa.create(due_on=due_on, notify=False)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    print(
        f"BENCH sepa_collect debits={collection.count} seconds={seconds:.1f} "
        f"file_mb={len(collection.xml) / 1e6:.0f}",
        flush=True,
    )


def _convention(division: Division) -> Any:
    from datetime import datetime, timedelta

    from assemblies.models import Assembly

    today = timezone.localdate()
    return Assembly.objects.create(
        division=division,
        kind="convention",
        title="Bench",
        starts_at=timezone.make_aware(
            datetime.combine(today + timedelta(days=70), datetime.min.time())
        ),
        place="Bench",
        cutoff_on=today,
    )


def bench_eligibility(total: int) -> None:
    """Who may vote at a federal convention: every member's periods at the cut-off, the
    ledger asked for each batch, the list written (frozen). Rolled back afterwards; memory
    is traced in a second run (tracing slows a run down)."""
    import tracemalloc

    from django.db import transaction

    from assemblies import services

    federal = Division.objects.get(depth=1)
    seconds = peak = 0.0
    for traced in (False, True):
        with transaction.atomic():
            assembly = _convention(federal)
            if traced:
                tracemalloc.start()
            started = time.perf_counter()
            written = services.freeze(assembly=assembly, by=None)
            if traced:
                peak = tracemalloc.get_traced_memory()[1] / 1e6
                tracemalloc.stop()
            else:
                seconds = time.perf_counter() - started
                eligible = services.counts(assembly).eligible
            transaction.set_rollback(True)
    print(
        f"BENCH eligibility members={total} seconds={seconds:.1f} peak_mb={peak:.1f} "
        f"listed={written} eligible={eligible}",
        flush=True,
    )


def bench_checkin(state: Division, client: Client) -> None:
    """The door: one check-in request (a board member's phone) against a state
    convention's frozen list, for members picked at random."""
    from django.db import transaction

    from assemblies import services
    from assemblies.models import Entry

    with transaction.atomic():
        assembly = _convention(state)
        services.freeze(assembly=assembly, by=None)
        members = list(
            Entry.objects.filter(assembly=assembly)
            .order_by("?")
            .values_list("member_id", flat=True)[: RUNS + 10]
        )
        timings = []
        for i, member_id in enumerate(members):
            url = reverse("assemblies:assembly_check_in", args=[assembly.pk, member_id])
            started = time.perf_counter()
            response = client.post(url, HTTP_ACCEPT="application/json")
            if i >= 10:  # the first ones warm caches and connections
                timings.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"checkin: {url} answered {response.status_code}")
        transaction.set_rollback(True)
    p50 = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[18]
    print(f"BENCH checkin p50_ms={p50:.1f} p95_ms={p95:.1f} requests={len(timings)}", flush=True)


def bench_receipts() -> None:
    """The annual contribution receipts of BENCH_RECEIPTS members (10,000): each member's
    year read and compared with the current receipt, the receipt numbered and written, its
    PDF rendered and queued with the e-mail (85 % have an address) or left for the print
    file, whose first part is rendered too. The register holds ten years of dues; the
    receipts are for the year before them, whose payments are made here (dues, donations,
    returned debits, divided bookings) and rolled back with the receipts afterwards. Memory
    is traced in a second run: tracing allocations slows a run down."""
    import tracemalloc

    from django.db import transaction
    from django.db.models import Min

    from finance import receipts
    from finance.models import Payment

    count = int(os.environ.get("BENCH_RECEIPTS", "10000"))
    first = Payment.objects.aggregate(first=Min("booked_on"))["first"]
    year = min(first.year if first else timezone.localdate().year, timezone.localdate().year) - 1
    members = list(Member.objects.order_by("pk").values_list("pk", flat=True)[:count])
    with transaction.atomic():
        _contributions(year, members)
        with transaction.atomic():
            started = time.perf_counter()
            run = receipts.issue_receipts(year=year)
            seconds = time.perf_counter() - started
            started = time.perf_counter()
            printed, letters = receipts.print_pdf(run, 0)
            print_seconds = time.perf_counter() - started
            transaction.set_rollback(True)
        tracemalloc.start()
        receipts.issue_receipts(year=year)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        transaction.set_rollback(True)
    if run.issued != len(members):
        raise SystemExit(f"receipts: {run.issued} issued for {len(members)} members")
    print(
        f"BENCH receipts count={run.issued} seconds={seconds:.1f} peak_mb={peak / 1e6:.1f}",
        flush=True,
    )
    print(
        f"BENCH receipts_print receipts={len(letters)} seconds={print_seconds:.1f} "
        f"file_mb={len(printed) / 1e6:.1f}",
        flush=True,
    )


def _contributions(year: int, members: list[int]) -> None:
    """A year of payments for these members as bank files leave them: everyone's dues, one
    in five a donation, one in ten a direct debit returned and paid again by transfer, one
    in twenty-five sharing a booking divided with the next member."""
    from datetime import date
    from decimal import Decimal

    from finance.models import Payment

    def paid(member_id: int | None, amount: str, day: date, **values: Any) -> Payment:
        return Payment(
            member_id=member_id,
            match=values.pop("match", Payment.Match.NUMBER),
            amount=Decimal(amount),
            booked_on=day,
            reference=f"bench receipts {year}",
            **values,
        )

    rows, returned, divided = [], [], []
    for i, pk in enumerate(members):
        rows.append(paid(pk, "120.00", date(year, 3, 1)))
        if i % 5 == 0:
            rows.append(paid(pk, "50.00", date(year, 6, 1), purpose=Payment.Purpose.DONATION))
        if i % 10 == 1:
            returned.append(paid(pk, "120.00", date(year, 2, 1), method="direct_debit"))
        if i % 25 == 2 and i + 1 < len(members):
            divided.append((pk, members[i + 1]))
    Payment.objects.bulk_create(rows, batch_size=5000)
    Payment.objects.bulk_create(returned, batch_size=5000)
    Payment.objects.bulk_create(
        [
            paid(p.member_id, "-120.00", date(year, 2, 8), method="return", reverses=p)
            for p in returned
        ],
        batch_size=5000,
    )
    originals = Payment.objects.bulk_create(
        [paid(None, "100.00", date(year, 4, 1), match=Payment.Match.DIVIDED) for _ in divided]
    )
    Payment.objects.bulk_create(
        [
            paid(member_id, "50.00", date(year, 4, 1), match=Payment.Match.MANUAL, split_from=o)
            for o, pair in zip(originals, divided, strict=True)
            for member_id in pair
        ],
        batch_size=5000,
    )


def bench_switchover() -> None:
    """The federal switch-over of a whole register into an empty database of its own on the
    same server (bench/switchover.py), dropped afterwards."""
    import subprocess

    import psycopg

    rows = int(os.environ.get("BENCH_SWITCHOVER_ROWS", "500000"))
    params = connection.get_connection_params()
    name = "musterrolle_switchover_bench"
    admin = {**params, "dbname": "postgres", "autocommit": True}
    with psycopg.connect(**admin) as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}"')
        server.execute(f'CREATE DATABASE "{name}"')
    settings = connection.settings_dict
    url = (
        f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST'] or '127.0.0.1'}"
        f":{settings['PORT'] or 5432}/{name}"
    )
    try:
        result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
            [sys.executable, "bench/switchover.py", "--rows", str(rows)],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=False,
        )
    finally:
        with psycopg.connect(**admin) as server:
            server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if result.returncode != 0:
        raise SystemExit("switchover bench failed")


def bench_subject_access(state: Division) -> None:
    """The Art. 15 report (HTML, PDF and JSON) of a member with ten years of history: a
    payment and a charge every month, reminders, a mandate and its debits, receipts, a
    hundred newsletters, versions, a year of accesses and exports. Rolled back afterwards."""
    from datetime import date, timedelta
    from decimal import Decimal

    from django.db import transaction

    from finance.models import (
        Charge,
        ContributionReceipt,
        Debit,
        Mandate,
        Payment,
        ReceiptRun,
        Reminder,
    )
    from finance.models import Collection as DebitCollection
    from mailings.models import Delivery, Mailing
    from members import access_log, services
    from members.models import AccessKind
    from privacy import subject_access

    board = User.objects.get(email=f"bench-board-{state.code.lower()}@example.org")
    start = date(timezone.localdate().year - 10, 1, 1)
    months = [date(start.year + m // 12, m % 12 + 1, 1) for m in range(120)]
    with transaction.atomic():
        member = services.admit_member(
            by=None,
            division=Division.objects.filter(path__startswith=state.path).order_by("-depth")[0],
            values={"first_name": "Zehn", "last_name": "Jahre", "email": "zehn@example.org"},
            joined_on=start,
        )
        for n in range(20):
            services.update_member(
                by=None, member=member, changes={"city": f"Ort {n}"}, reason=f"Umzug {n}"
            )
            member.refresh_from_db()
        Charge.objects.bulk_create(
            Charge(
                member=member,
                year=d.year,
                kind="dues",
                revision=100 + d.month,  # besides the dues the admission charged
                amount=Decimal(10),
                due_on=d,
                overdue_on=d + timedelta(days=30),
            )
            for d in months
        )
        Payment.objects.bulk_create(
            Payment(
                member=member,
                amount=Decimal(10),
                booked_on=d,
                reference=f"MB {d}",
                counterparty_name="Zehn Jahre",
                counterparty_iban="DE89370400440532013000",
            )
            for d in months
        )
        Reminder.objects.bulk_create(
            Reminder(
                member=member,
                level=1,
                arrears_since=d,
                sent_on=d,
                amount=Decimal(10),
                reference="MB",
                channel="email",
            )
            for d in months[::6]
        )
        mandate = Mandate.objects.create(
            member=member,
            reference="MR-ZEHN",
            signed_on=start,
            holder="Zehn Jahre",
            iban="DE89370400440532013000",
        )
        collection = DebitCollection.objects.create(
            due_on=start, division=state, message_id="MR-ZEHN", file_gz=b""
        )
        Debit.objects.bulk_create(
            Debit(
                collection=collection,
                member=member,
                mandate=mandate,
                year=d.year,
                month=d.month,
                amount=Decimal(10),
                sequence="RCUR",
                end_to_end_id=f"Z-{d}",
            )
            for d in months
        )
        from finance import receipts

        wording = receipts.current_wording()
        run = ReceiptRun.objects.create(year=start.year, division=state, status="done")
        ContributionReceipt.objects.bulk_create(
            ContributionReceipt(
                number=f"Z-{y}",
                year=y,
                serial=y,
                member=member,
                run=run,
                wording=wording,
                issued_on=date(y + 1, 1, 15),
                dues=Decimal(120),
                donations=Decimal(0),
                lines=[],
                address=["Zehn Jahre"],
                channel="email",
            )
            for y in range(start.year, start.year + 10)
        )
        mailings = Mailing.objects.bulk_create(
            Mailing(
                division=state,
                kind="newsletter",
                status="sent",
                sender_name="LV",
                reply_to="lv@example.org",
                subject=f"Rundbrief {n}",
                body="x",
                created_by=board,
            )
            for n in range(100)
        )
        Delivery.objects.bulk_create(
            Delivery(mailing=m, member=member, email=member.email, status="sent") for m in mailings
        )
        for _n in range(250):
            access_log.record(board, AccessKind.PAGE, member=member, path="/")
        others = list(Member.objects.values_list("pk", flat=True)[:50_000])
        for _n in range(20):
            access_log.record(board, AccessKind.EXPORT, member_ids=[*others, member.pk])
        started = time.perf_counter()
        files = subject_access.files(member, by=board)
        seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    size = sum(len(content) for content in files.values())
    print(
        f"BENCH subject_access seconds={seconds:.2f} payments=120 deliveries=100 "
        f"accesses=270 kb={size // 1000}",
        flush=True,
    )


def bench_retention_dry_run(total: int) -> None:
    """What a retention run would do today over the whole register: writes nothing."""
    from privacy import retention

    started = time.perf_counter()
    plan = retention.plan()
    seconds = time.perf_counter() - started
    print(
        f"BENCH retention_dry_run members={total} seconds={seconds:.1f} "
        f"notices={len(plan.notices)} anonymise={len(plan.anonymise)} "
        f"held_back={sum(plan.held_back.values())}",
        flush=True,
    )


def bench_simulate_year() -> None:
    """A state association's year simulated day by day (manage.py simulate_year): on its own
    throwaway SQLite database, whatever this bench runs on; a violation fails the bench."""
    import subprocess

    members = int(os.environ.get("BENCH_SIMULATE_MEMBERS", "5000"))
    seed = os.environ.get("BENCH_SIMULATE_SEED", "1")
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 - our own command, fixed arguments
        [sys.executable, "manage.py", "simulate_year", "--members", str(members), "--seed", seed],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(
            f"simulate_year --members {members} --seed {seed} failed:\n"
            + "\n".join(result.stdout.splitlines()[-5:])
            + result.stderr[-3000:]
        )
    print(f"BENCH simulate_year members={members} seconds={seconds:.1f}", flush=True)


if __name__ == "__main__":
    main()
