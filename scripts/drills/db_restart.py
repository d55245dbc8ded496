#!/usr/bin/env python3
"""Database restart drill: PostgreSQL restarts (fast: every connection cut) while a state
board's import is being applied, while the board's upload requests are on their way, and while
a bank file of a few thousand bookings is being booked. All or nothing holds (an interrupted job
has written none of its rows or all of them, never some), the user gets a clear message (the
503 page, the applied result or an error that says nothing was written, never a server error),
and a retry (the worker's own, else the user's) writes everything exactly once.

    .venv/bin/python scripts/drills/db_restart.py [--members 5000] [--rows 2000]
        [--bookings 3000] [--delay 2.5]

Whether a restart lands inside a running job is a race: the line says how many did
(`hit_running`, judged by the job's transaction holding its table lock just before the restart).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import PASSWORD, Stack, drill_line, log_in, main_guard, wait_for

# The text of templates/503.html: what a request that lost the database must show.
UNREACHABLE = "Datenbank war gerade nicht erreichbar"
# The German of imports.run_apply's and the bank status page's "nothing was written" messages.
NOTHING_APPLIED = "Nichts wurde übernommen"
NOTHING_BOOKED = "Nichts wurde gebucht"

# The demo's federal office account books bank files (a board may not): a known password and an
# authenticator app, as the drill's boards get them (django_side.boards).
FEDERAL_OFFICE = """
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from members.models import User
user = User.objects.get(email="bund@example.org")
user.set_password({password!r})
user.save(update_fields=["password"])
user.authenticator_set.all().delete()
secret = generate_totp_secret()
TOTP.activate(user, secret)
print(secret)
"""


@dataclass
class Tally:
    partial_writes: int = 0  # a job whose rows are neither none nor all, or contradict its status
    imports: int = 0
    bank_files: int = 0
    restarts: int = 0
    hit_running: int = 0
    retried: int = 0  # jobs finished by a second attempt (the worker's retry or the user's)
    retry_failed: int = 0
    http_500: int = 0
    unclear: int = 0  # a message that does not say what happened (or says something false)
    stuck: int = 0  # a job still "being applied/booked" long after the database came back
    posts: int = 0
    post_hits: int = 0  # upload requests that met the restart (503, or 500)
    seen: list[str] = field(default_factory=list)  # what the users saw, per job
    landing: str = "-"  # the page the submit leads to while applying: status/seconds

    def problem(self, kind: str, text: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        print(f"  {kind}: {text}", file=sys.stderr)


class Browser:
    """A logged-in user's session; every answer is judged: a 500 is never acceptable, a 503
    must be the page that says the database was away."""

    def __init__(self, base: str, email: str, secret: str, tally: Tally) -> None:
        self.base, self.tally = base, tally
        self.session = requests.Session()
        log_in(self.session, base, email, secret)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else self.base + path
        response = self.session.request(method, url, allow_redirects=False, timeout=180, **kwargs)
        if response.status_code >= 500 and response.status_code != 503:
            self.tally.problem("http_500", f"{method} {path}: {response.status_code}")
        elif response.status_code == 503 and UNREACHABLE not in response.text:
            self.tally.problem("unclear", f"{method} {path}: 503 without the database page")
        return response

    def get(self, path: str) -> requests.Response:
        return self.request("GET", path)

    def form(self, path: str) -> tuple[str, str]:
        """The page and its CSRF token (the session's; it stays valid across requests)."""
        page = self.get(path)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if page.status_code != 200 or not match:
            raise RuntimeError(f"GET {path}: {page.status_code}, no form")
        return page.text, match.group(1)

    def post(
        self, path: str, token: str, data: dict | None = None, files: dict | None = None
    ) -> requests.Response:
        return self.request(
            "POST",
            path,
            data={"csrfmiddlewaretoken": token, **(data or {})},
            files=files,
            # Django checks the referer of secure requests.
            headers={"Referer": self.base + path},
        )


def member_sheet(rows: int, tag: str) -> bytes:
    """New members for the board's state: names and addresses nobody in the register has, so
    that every row is new and becomes one entry request."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Vorname", "Name", "Str.", "PLZ", "Wohnort", "E-Mail"])
    for i in range(rows):
        sheet.append(
            [
                f"Ida{i}",
                f"Neustart{tag}",
                f"Weg {i}",
                "04109",
                "Leipzig",
                f"ns-{tag}-{i}@example.org",
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def camt(numbers: list[str], tag: str) -> bytes:
    """A CAMT.053 statement with one dues transfer per member, each naming its membership
    number the way the finance order asks (`MB<year> <number>`), so each is booked as dues."""
    year = date.today().year
    day = date.today().isoformat()
    entries = "".join(
        f'<Ntry><Amt Ccy="EUR">61.37</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
        f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>DRILL-{tag}-{i}</AcctSvcrRef>"
        "<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly>"
        "</Domn></BkTxCd><NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
        f"<RltdPties><Dbtr><Nm>Zahler {i}</Nm></Dbtr></RltdPties>"
        f"<RmtInf><Ustrd>MB{year} {number} Beitrag</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
        for i, number in enumerate(numbers)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
        f"<GrpHdr><MsgId>DRILL-{tag}</MsgId><CreDtTm>{day}T08:00:00</CreDtTm></GrpHdr>"
        f"<Stmt><Id>DRILL-{tag}</Id><Acct><Id><IBAN>DE02120300000000202051</IBAN></Id></Acct>"
        f"{entries}</Stmt></BkToCstmrStmt></Document>"
    ).encode()


def ask(stack: Stack, query: str, *params: int | str) -> str:
    """`query` through psql, its %s filled in as SQL literals (numbers as they are, text
    quoted): the drill's own ids and tags."""
    literals = tuple(
        str(p) if isinstance(p, int) else "'" + p.replace("'", "''") + "'" for p in params
    )
    return stack.pg.sql(query % literals)


def writing(stack: Stack, table: str) -> bool:
    """Whether some transaction is writing `table` now: an INSERT keeps its table lock until
    the transaction ends, and nothing else writes these tables during the drill."""
    return (
        ask(
            stack,
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = %s AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()",
            table,
        )
        != "0"
    )


def restart(stack: Stack, tally: Tally) -> None:
    started = time.monotonic()
    stack.pg.restart()
    tally.restarts += 1
    print(f"  PostgreSQL restarted in {time.monotonic() - started:.1f} s", file=sys.stderr)


def json_lines(text: str) -> list[dict]:
    """The JSON log lines of a process (a line cut short as the process wrote it is skipped)."""
    entries = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                entries.append(json.loads(line))
            except ValueError:
                continue
    return entries


def task_retries(stack: Stack, name: str) -> int:
    """How often the worker has retried the task so far (its log line per try)."""
    return sum(
        entry.get("event") == "task" and entry.get("task") == name and entry.get("state") == "RETRY"
        for entry in json_lines(stack.log("worker-w1"))
    )


def wait_until_left(status_of: Callable[[], str], busy: tuple[str, ...], seconds: float) -> str:
    """The job's status once it is no longer one of `busy` ("" if it never left)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            status = status_of()
        except Exception:  # the database is still coming back
            status = busy[0]
        if status not in busy:
            return status
        time.sleep(0.3)
    return ""


# --- The board's import ------------------------------------------------------------------


def upload(board: Browser, state: int, filename: str, content: bytes) -> requests.Response:
    _page, token = board.form(f"/divisions/{state}/imports/new/")
    return board.post(
        f"/divisions/{state}/imports/new/", token, files={"file": (filename, content)}
    )


def checked_batch(stack: Stack, response: requests.Response, rows: int) -> int:
    """The batch an upload made, once its check is done; every row new and without errors."""
    match = re.search(r"/imports/(\d+)/", response.headers.get("Location", ""))
    if response.status_code != 302 or not match:
        raise RuntimeError(f"the upload was refused: {response.status_code}")
    pk = int(match.group(1))
    wait_for(lambda: batch_status(stack, pk) != "validating", 120, f"the check of import {pk}")
    found = ask(stack, "SELECT status, new, errors FROM members_importbatch WHERE id = %s", pk)
    if found != f"checked|{rows}|0":
        raise RuntimeError(f"import {pk} was not checked clean: {found}")
    return pk


def submit(board: Browser, pk: int) -> requests.Response:
    """What the board's "Submit to the federal office" button sends: the preview it saw."""
    page, token = board.form(f"/imports/{pk}/")
    checked_at = re.search(r'name="checked_at" value="([^"]+)"', page)
    if not checked_at:
        raise RuntimeError(f"import {pk} offers no submit button")
    return board.post(f"/imports/{pk}/apply/", token, data={"checked_at": checked_at.group(1)})


def batch_status(stack: Stack, pk: int) -> str:
    return ask(stack, "SELECT status FROM members_importbatch WHERE id = %s", pk)


def import_state(stack: Stack, pk: int) -> tuple[str, int, str]:
    """The batch's status, the change requests it has written, the error it shows."""
    written = ask(stack, "SELECT count(*) FROM members_changerequest WHERE batch_id = %s", pk)
    error = ask(stack, "SELECT error FROM members_importbatch WHERE id = %s", pk)
    return batch_status(stack, pk), int(written), error


def whole(status: str, written: int, rows: int, done: str, undone: tuple[str, ...]) -> bool:
    """All or nothing, and the status says which."""
    return (status == done and written == rows) or (status in undone and written == 0)


def import_during_restart(
    stack: Stack, board: Browser, state: int, rows: int, delay: float, tally: Tally
) -> None:
    tag = secrets.token_hex(3)
    response = upload(board, state, f"neustart-{tag}.xlsx", member_sheet(rows, tag))
    pk = checked_batch(stack, response, rows)
    retries_before = task_retries(stack, "members.apply_import")
    started = time.monotonic()
    submitted = submit(board, pk)
    if submitted.status_code != 302:
        raise RuntimeError(f"import {pk}: the submit was refused")
    # The browser follows the redirect to the import's page, which says it is being applied;
    # timed on its own thread: that page must not wait for the apply.
    landing: list[tuple[int, float]] = []

    def follow() -> None:
        sent = time.monotonic()
        try:
            code = board.get(submitted.headers["Location"]).status_code
        except requests.RequestException as error:  # no answer at all: as bad as a 500
            board.tally.problem("http_500", f"the page after the submit: {error}")
            code = 0
        landing.append((code, time.monotonic() - sent))

    browser = threading.Thread(target=follow)
    browser.start()

    def status_of() -> str:
        return batch_status(stack, pk)

    wait_for(
        lambda: writing(stack, "members_changerequest") or status_of() != "applying",
        60,
        f"import {pk} to start applying",
    )
    time.sleep(delay)  # into the middle of the apply (it takes ten seconds and more)
    running = writing(stack, "members_changerequest") and status_of() == "applying"
    waiting = browser.is_alive()
    restart(stack, tally)
    tally.hit_running += running
    browser.join()
    code, seconds = landing[0]
    tally.landing = f"{code}/{seconds:.1f}s"
    if waiting:
        print(
            f"  the page after the submit was still loading {delay:.1f} s into the apply "
            f"(answered {code} after {seconds:.1f} s, when the restart ended the apply)",
            file=sys.stderr,
        )
    tally.imports += 1
    status = wait_until_left(status_of, ("applying",), 600)
    if not status:
        tally.problem("stuck", f"import {pk} still being applied after 10 minutes")
        return
    status, written, error = import_state(stack, pk)
    print(
        f"  import {pk}: {rows} rows, restart {'inside' if running else 'outside'} the apply; "
        f"after {time.monotonic() - started:.0f} s {status}, {written} written, error {error!r}",
        file=sys.stderr,
    )
    if not whole(status, written, rows, "submitted", ("checked",)):
        tally.problem("partial_writes", f"import {pk}: {status} with {written} of {rows} rows")
    tally.seen.append("import:applied" if status == "submitted" else "import:error")
    judge_import_page(board, pk, status, tally)
    if task_retries(stack, "members.apply_import") > retries_before and status == "submitted":
        tally.retried += 1  # the worker ran it again after the restart
    if status == "checked":
        # The board's retry: submit again, and every row arrives once.
        tally.retried += 1
        if submit(board, pk).status_code != 302:
            tally.problem("retry_failed", f"import {pk}: the second submit was refused")
            return
        wait_until_left(status_of, ("applying",), 600)
        status, written, _error = import_state(stack, pk)
        if status != "submitted" or written != rows:
            tally.problem("retry_failed", f"import {pk} again: {status}, {written} of {rows}")
        judge_import_page(board, pk, status, tally)


def judge_import_page(board: Browser, pk: int, status: str, tally: Tally) -> None:
    """What the board sees: the result, or that nothing was applied and why; never both (an
    error left over from an interrupted try on an import that went through after all)."""
    page = board.get(f"/imports/{pk}/").text
    success, failure = "alert-success" in page, 'class="alert alert-danger"' in page
    if status == "submitted" and (failure or not success):
        shown = re.search(r'class="alert alert-danger"[^>]*>([^<]*)', page)
        tally.problem(
            "unclear", f"import {pk} went through, its page says: {shown and shown.group(1)!r}"
        )
    elif status != "submitted" and (not failure or NOTHING_APPLIED not in page):
        tally.problem("unclear", f"import {pk}: nothing applied and no message saying so")


def uploads_during_restart(stack: Stack, board: Browser, state: int, tally: Tally) -> None:
    """Upload requests one after the other while PostgreSQL restarts: the requests on their
    way when it goes (and those arriving while it is down) must get the 503 page or succeed."""
    tag = secrets.token_hex(3)
    _page, token = board.form(f"/divisions/{state}/imports/new/")
    answers: list[tuple[str, bytes, int]] = []
    done = threading.Event()

    def send() -> None:
        k = 0
        while not done.is_set():
            k += 1
            name = f"unterwegs-{tag}-{k}.xlsx"
            content = member_sheet(20, f"{tag}x{k}")
            try:
                response = board.post(
                    f"/divisions/{state}/imports/new/", token, files={"file": (name, content)}
                )
            except requests.RequestException as error:  # no answer at all: as bad as a 500
                board.tally.problem("http_500", f"{name}: {type(error).__name__}")
                answers.append((name, content, 0))
                continue
            answers.append((name, content, response.status_code))

    sender = threading.Thread(target=send)
    sender.start()
    time.sleep(0.7)
    restart(stack, tally)
    time.sleep(1.5)
    done.set()
    sender.join()
    mine = f"unterwegs-{tag}-%"
    made = dict(
        line.split("|")
        for line in ask(
            stack,
            "SELECT filename, count(*) FROM members_importbatch WHERE filename LIKE %s "
            "GROUP BY filename",
            mine,
        ).splitlines()
    )
    codes = Counter(code for _name, _content, code in answers)
    print(f"  uploads during the restart: {dict(codes)}", file=sys.stderr)
    tally.posts += len(answers)
    for name, content, code in answers:
        count = int(made.get(name, 0))
        if code != 302:
            tally.post_hits += 1
        if count > 1 or (code == 302 and count == 0):
            tally.problem("partial_writes", f"{name}: answered {code}, {count} imports kept")
        if code != 302 and count == 0:
            # The page asked to check and try again: nothing arrived, so upload again.
            tally.retried += 1
            again = upload(board, state, name, content)
            if again.status_code != 302:
                tally.problem("retry_failed", f"{name} again: {again.status_code}")

    # Every upload that arrived is checked, the restart or not (the check task retries too).
    def checking() -> str:
        return ask(
            stack,
            "SELECT count(*) FROM members_importbatch WHERE filename LIKE %s "
            "AND status = 'validating'",
            mine,
        )

    try:
        wait_for(lambda: checking() == "0", 120, "the uploads' checks")
    except SystemExit:
        tally.problem("stuck", f"{checking()} uploads still being checked")
    for line in ask(
        stack,
        "SELECT id, status, errors, error FROM members_importbatch WHERE filename LIKE %s "
        "AND NOT (status = 'checked' AND error = '')",
        mine,
    ).splitlines():
        tally.problem("unclear", f"an upload that arrived was not checked clean: {line}")


# --- The federal office's bank file ------------------------------------------------------


def bank_upload(office: Browser, content: bytes, filename: str) -> int:
    path = "/admin/finance/bankstatement/upload/"
    _page, token = office.form(path)
    response = office.post(path, token, files={"file": (filename, content)})
    match = re.search(r"/upload/(\d+)/", response.headers.get("Location", ""))
    if response.status_code != 302 or not match:
        raise RuntimeError(f"the bank file was refused: {response.status_code}")
    return int(match.group(1))


def upload_status(stack: Stack, pk: int) -> str:
    return ask(stack, "SELECT status FROM finance_bankupload WHERE id = %s", pk)


def bank_state(stack: Stack, tag: str) -> tuple[int, int, int]:
    """The file's payments: written, distinct bookings, matched to a member."""
    found = ask(
        stack,
        "SELECT count(*), count(DISTINCT bank_reference), count(member_id) FROM finance_payment "
        "WHERE bank_reference LIKE %s",
        f"DRILL-{tag}-%",
    )
    written, distinct, matched = (int(n) for n in found.split("|"))
    return written, distinct, matched


def bank_file_during_restart(
    stack: Stack, office: Browser, numbers: list[str], delay: float, tally: Tally
) -> None:
    tag = secrets.token_hex(3)
    content, filename = camt(numbers, tag), f"kontoauszug-{tag}.xml"
    retries_before = task_retries(stack, "finance.import_bank_file")
    started = time.monotonic()
    pk = bank_upload(office, content, filename)
    busy = ("queued", "importing")
    wait_for(
        lambda: writing(stack, "finance_bankstatement") or upload_status(stack, pk) not in busy,
        120,
        f"bank file {pk} to be booked",
    )
    time.sleep(delay)  # into the booking transaction (a few seconds for a few thousand)
    running = writing(stack, "finance_bankstatement") and upload_status(stack, pk) == "importing"
    restart(stack, tally)
    tally.hit_running += running
    tally.bank_files += 1
    status = wait_until_left(lambda: upload_status(stack, pk), busy, 600)
    if not status:
        tally.problem("stuck", f"bank file {pk} still being booked after 10 minutes")
        return
    written, distinct, matched = bank_state(stack, tag)
    error = ask(stack, "SELECT error FROM finance_bankupload WHERE id = %s", pk)
    total = len(numbers)
    print(
        f"  bank file {pk}: {total} bookings, restart {'inside' if running else 'outside'} the "
        f"booking; after {time.monotonic() - started:.0f} s {status}, {written} written "
        f"({distinct} distinct, {matched} matched), error {error!r}",
        file=sys.stderr,
    )
    if not whole(status, written, total, "done", ("failed",)) or distinct != written:
        tally.problem("partial_writes", f"bank file {pk}: {status} with {written} of {total}")
    page = office.get(f"/admin/finance/bankstatement/upload/{pk}/").text
    if status == "done":
        tally.seen.append("bank:booked")
        if 'role="status"' not in page or "errornote" in page:
            tally.problem("unclear", f"bank file {pk} was booked, the page does not say so")
    else:
        tally.seen.append("bank:refused")
        if "errornote" not in page or NOTHING_BOOKED not in page:
            tally.problem("unclear", f"bank file {pk}: refused without saying nothing was booked")
    if task_retries(stack, "finance.import_bank_file") > retries_before and status == "done":
        tally.retried += 1
    if status == "failed":
        # The federal office's retry: the same file again, booked exactly once.
        tally.retried += 1
        again = bank_upload(office, content, filename)
        wait_until_left(lambda: upload_status(stack, again), busy, 600)
        written, distinct, matched = bank_state(stack, tag)
    if not written == distinct == matched == total:
        tally.problem(
            "retry_failed",
            f"bank file {pk}: {written} written, {distinct} distinct, {matched} matched of {total}",
        )


def request_errors(stack: Stack) -> Counter:
    """Where the requests that failed (500 and 503) failed: each one's innermost frame in the
    project's code and its exception."""
    found: Counter = Counter()
    for log in stack.work.glob("web-*.log"):
        for entry in json_lines(log.read_text(errors="replace")):
            if entry.get("logger") != "django.request":
                continue
            frames = re.findall(r'File "([^"]+)", line (\d+), in (\w+)', entry.get("exc_info", ""))
            ours = [f for f in frames if "/.venv/" not in f[0] and "/site-packages/" not in f[0]]
            raised = re.findall(
                r"^([\w.]+(?:Error|Exception)): (.*)$", entry.get("exc_info", ""), re.M
            )
            error = [f"{raised[-1][0]}: {raised[-1][1]}" if raised else "?"]
            where = ":".join(ours[-1][1:]) if ours else "?"
            path = Path(ours[-1][0]).name if ours else "?"
            found[f"{entry.get('message')} at {path}:{where}: {error[0][:100]}"] += 1
    return found


def run() -> bool:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=int(os.environ.get("DRILL_MEMBERS", "5000")))
    parser.add_argument("--rows", type=int, default=2000, help="rows of the board's sheet")
    parser.add_argument("--bookings", type=int, default=3000, help="bookings in the bank file")
    parser.add_argument(
        "--delay", type=float, default=2.5, help="seconds into a job before the restart"
    )
    args = parser.parse_args()
    tally = Tally()
    with Stack() as stack:
        stack.prepare()
        stack.python(f"from bench.generate import ensure_register\nensure_register({args.members})")
        board = json.loads(
            stack.python(
                "import sys\nsys.path.insert(0, 'scripts/drills')\nimport django_side\n"
                "django_side.dump_boards(1)"
            )
            .strip()
            .splitlines()[-1]
        )[0]
        office_secret = stack.python(FEDERAL_OFFICE.format(password=PASSWORD)).strip()
        numbers = ask(
            stack,
            "SELECT membership_number FROM members_member ORDER BY id LIMIT %s",
            args.bookings,
        ).split()
        if len(numbers) < args.bookings:
            raise SystemExit(f"--bookings {args.bookings} needs as many members")
        _web, url = stack.web(workers=2)
        stack.worker("w1")
        board_browser = Browser(url, board["email"], board["secret"], tally)
        office = Browser(url, "bund@example.org", office_secret, tally)

        print("1. the board's import, restart while it is applied", file=sys.stderr)
        import_during_restart(stack, board_browser, board["state"], args.rows, args.delay, tally)
        print("2. the board's uploads, restart while they are sent", file=sys.stderr)
        uploads_during_restart(stack, board_browser, board["state"], tally)
        print("3. a bank file, restart while it is booked", file=sys.stderr)
        bank_file_during_restart(stack, office, numbers, args.delay, tally)
        for where, count in request_errors(stack).items():
            print(f"  logged x{count}: {where}", file=sys.stderr)

    drill_line(
        "db_restart",
        partial_writes=tally.partial_writes,
        imports=tally.imports,
        bank_files=tally.bank_files,
        restarts=tally.restarts,
        hit_running=tally.hit_running,
        retried=tally.retried,
        retry_failed=tally.retry_failed,
        http_500=tally.http_500,
        unclear=tally.unclear,
        stuck=tally.stuck,
        posts=tally.posts,
        post_hits=tally.post_hits,
        submit_page=tally.landing,
        seen=",".join(tally.seen) or "-",
    )
    return not (
        tally.partial_writes or tally.http_500 or tally.retry_failed or tally.unclear or tally.stuck
    )


if __name__ == "__main__":
    main_guard(run)
