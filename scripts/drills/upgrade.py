#!/usr/bin/env python3
"""Upgrade drill: the previous release's code migrates an empty database and fills it with the
bench register; then the current code's `manage.py migrate` runs on it while probes, each on a
connection of its own, read, lock and write one member row every 100 ms under a lock_timeout.
A deployment migrates while the site is up: a migration that holds the member table for longer
than the limit makes every board's page and every booking wait (or fail) meanwhile.

    .venv/bin/python scripts/drills/upgrade.py [--from REF] [--members 100000] [--lock-timeout 5s]

The previous release is checked out with `git worktree` into a temporary directory (removed
afterwards) and runs in its own virtualenv unless its requirements.lock is the current one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import PYTHON, ROOT, Stack, drill_line, main_guard

# There are no release tags. The previous release is taken to be the last commit before the
# most recent wave of work: 80e6e4a (2 December, 22:12) ends the wave of issue 15 (direct debit,
# dues shares, contribution receipts); four hours later 8998195 and 6963f3b (issue 16,
# assemblies) began the current one, followed by data protection and operations. It is 46
# commits back, its 48 migrations are the first 48 of today's 55 (no file of them changed
# since), its bench/generate.py has ensure_register, and its requirements.lock differs (so the
# drill also proves the old lock still installs).
PREVIOUS = "80e6e4a767f8ed523ba8e42e87b042a77ac92820"
MEMBER_TABLE = '"members_member"'

# What the app does to a member row while a migration runs: pages read it, services lock it
# (select_for_update) before they change it, and saving writes it. They wait on different
# locks: a plain CREATE INDEX or a new foreign key lets reads and FOR UPDATE through but
# holds every write, which only the write probe sees. The write is rolled back.
PROBES = {
    "read": "SELECT id, status FROM members_member WHERE id = %s",
    "for update": "SELECT id FROM members_member WHERE id = %s FOR UPDATE",
    "write": "UPDATE members_member SET status = status WHERE id = %s",
}


@dataclass
class Probe:
    kind: str
    sql: str
    # (started, waited seconds, hit lock_timeout) for each probe
    results: list[tuple[float, float, bool]] = field(default_factory=list)
    error: BaseException | None = None


def probe_loop(
    url: str, probe: Probe, member_id: int, limit_ms: int, stop: threading.Event
) -> None:
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            while not stop.is_set():
                began = time.monotonic()
                timed_out = False
                try:
                    with conn.transaction():
                        conn.execute(f"SET LOCAL lock_timeout = '{limit_ms}ms'")
                        conn.execute(probe.sql, (member_id,))
                        raise psycopg.Rollback
                except psycopg.errors.LockNotAvailable:
                    timed_out = True
                probe.results.append((began, time.monotonic() - began, timed_out))
                stop.wait(0.1)
    except BaseException as error:  # reported by the drill, which then fails
        probe.error = error


def milliseconds(text: str) -> int:
    """'5s', '500ms' or '2.5' (seconds) as milliseconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 5s or 500ms)")
    value = float(match.group(1))
    return round(value if match.group(2) == "ms" else value * 1000)


def git(*args: str) -> str:
    out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"git {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout.strip()


def old_python(tree: Path) -> Path:
    """The interpreter for the old tree: the current one when the lock file is the same, else
    a virtualenv of its own, installed as `make install` does (hashes required, no resolver)."""
    if (tree / "requirements.lock").read_bytes() == (ROOT / "requirements.lock").read_bytes():
        return Path(PYTHON)
    started = time.monotonic()
    base = subprocess.run(
        [str(ROOT / "scripts" / "find-python")], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run([base, "-m", "venv", str(tree / ".venv")], check=True)
    python = tree / ".venv" / "bin" / "python"
    out = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--require-hashes",
            "--no-deps",
            "-r",
            str(tree / "requirements.lock"),
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"installing the old requirements.lock failed:\n{out.stderr[-3000:]}")
    print(
        f"old requirements.lock differs: installed into its own venv in "
        f"{time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )
    return python


def run_old(stack: Stack, tree: Path, python: Path, *args: str) -> str:
    """A command of the previous release, in its own tree, against the drill's database."""
    env = stack.env()
    env.pop("PYTHONPATH", None)
    out = subprocess.run([str(python), *args], cwd=tree, env=env, capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(
            f"old release: {' '.join(args[:2])} failed:\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"
        )
    return out.stdout


# The bench register has no mailings, but a party that has used the previous release has: a
# year of newsletters to every member with an e-mail address (deliveries are kept for twelve
# months). Tables that point at members matter to an upgrade: a migration that re-creates their
# foreign key checks every row while it holds the member table. Written by the previous
# release's models, the deliveries with one INSERT ... SELECT.
MAILINGS = """
import django, os
os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')
django.setup()
from django.db import connection
from mailings.models import Mailing
from members.models import Division, User
author = User.objects.create_user(email='drill-upgrade@example.org', password=None)
mailings = Mailing.objects.bulk_create(
    Mailing(division=Division.get_first_root_node(), kind='newsletter', status='sent',
            sender_name='Bundesverband', reply_to='bund@example.org',
            subject=f'Rundbrief {{n}}', body='x', created_by=author)
    for n in range({count}))
with connection.cursor() as cursor:
    cursor.execute(
        "INSERT INTO mailings_delivery (mailing_id, member_id, email, status, sent_at)"
        " SELECT g.id, m.id, m.email, 'sent', now() FROM unnest(%s::bigint[]) g(id)"
        " CROSS JOIN members_member m WHERE m.email <> ''",
        [[m.pk for m in mailings]])
    cursor.execute('VACUUM ANALYZE mailings_delivery')
"""

# The current code's view of what migrate will do: each pending migration with its SQL (as
# sqlmigrate prints it), run in one process instead of one per migration. It is asked on the
# old database itself: Django's schema editor looks up existing constraints there, and only
# then shows the foreign keys it drops and adds again (on an empty database it shows neither).
PENDING = """
import io, json
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
executor = MigrationExecutor(connection)
pending = []
for migration, _ in executor.migration_plan(executor.loader.graph.leaf_nodes()):
    sql = io.StringIO()
    call_command("sqlmigrate", migration.app_label, migration.name, stdout=sql)
    pending.append({"name": f"{migration.app_label}.{migration.name}",
                    "atomic": migration.atomic, "sql": sql.getvalue()})
print(json.dumps(pending))
"""


def member_table_locks(sql: str, member_keys: set[str]) -> list[str]:
    """The statements of a migration that take a lock on the member table, and what that lock
    keeps waiting (PostgreSQL's table-level lock modes). `member_keys` names the foreign keys
    pointing at members_member before the upgrade: dropping one locks the member table too,
    though its statement names another table."""
    notes = []
    created = set(re.findall(r'CREATE TABLE "(\w+)"', sql))
    for statement in sql.split(";\n"):
        lines = [line for line in statement.splitlines() if not line.startswith("--")]
        text = " ".join(" ".join(lines).split())
        dropped = re.search(r'DROP CONSTRAINT "(\w+)"', text)
        if dropped and dropped.group(1) in member_keys:
            # The key's triggers live on members_member: removing them takes its strongest
            # lock, held (in an atomic migration) until the migration commits.
            notes.append(f"ACCESS EXCLUSIVE: blocks reads and writes: {text[:140]}")
            continue
        if MEMBER_TABLE not in text:
            continue
        upper = text.upper()
        if re.search(r"CREATE (UNIQUE )?INDEX CONCURRENTLY", upper):
            what = "SHARE UPDATE EXCLUSIVE: blocks no reads or writes"
        elif re.match(r"CREATE (UNIQUE )?INDEX", upper):
            what = "SHARE: blocks writes for the whole index build"
        elif upper.startswith("ALTER TABLE " + MEMBER_TABLE.upper()):
            what = (
                "SHARE UPDATE EXCLUSIVE: blocks no reads or writes"
                if "VALIDATE CONSTRAINT" in upper
                else "ACCESS EXCLUSIVE: blocks reads and writes"
            )
        elif "REFERENCES " + MEMBER_TABLE.upper() in upper:
            table = re.match(r'ALTER TABLE "(\w+)"', text)
            if table and table.group(1) not in created:
                # Django drops and adds a foreign key again whenever its field changes: the
                # new constraint is checked against every row the table already holds.
                what = (
                    f"SHARE ROW EXCLUSIVE: blocks writes while every row of the existing "
                    f"{table.group(1)} is checked (no NOT VALID)"
                )
            else:
                what = "SHARE ROW EXCLUSIVE (foreign key of a new table): blocks writes"
        elif re.match(r"(UPDATE|DELETE FROM|INSERT INTO) " + MEMBER_TABLE.upper(), upper):
            what = "ROW EXCLUSIVE and row locks: blocks writes of the rows it changes"
        else:
            what = "mentions the table"
        notes.append(f"{what}: {text[:140]}")
    return notes


def read_output(process: subprocess.Popen, chunks: list[tuple[float, str]]) -> None:
    """migrate's output as it comes, with the time of each piece: `Applying x...` is written
    before the migration starts and its `OK` after it ends, without a newline in between."""
    while True:
        data = os.read(process.stdout.fileno(), 65536)  # type: ignore[union-attr]
        if not data:
            return
        chunks.append((time.monotonic(), data.decode(errors="replace")))


def run() -> bool:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from", dest="ref", default=PREVIOUS)
    parser.add_argument(
        "--members", type=int, default=int(os.environ.get("DRILL_UPGRADE_MEMBERS", "100000"))
    )
    parser.add_argument("--lock-timeout", type=milliseconds, default=milliseconds("5s"))
    # Newsletters sent to every member with an e-mail address before the upgrade (a year's).
    parser.add_argument("--mailings", type=int, default=12)
    args = parser.parse_args()
    commit = git("rev-parse", "--verify", f"{args.ref}^{{commit}}")
    short = git("rev-parse", "--short", commit)

    home = Path(tempfile.mkdtemp(prefix="musterrolle-upgrade."))
    tree = home / "tree"
    git("worktree", "add", "--detach", str(tree), commit)
    try:
        python = old_python(tree)
        # No Redis: in-process cache and eager tasks serve both releases' commands here.
        with Stack(redis=False) as stack:
            return upgrade(stack, tree, python, short, args)
    finally:
        git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(home, ignore_errors=True)


def upgrade(stack: Stack, tree: Path, python: Path, short: str, args: argparse.Namespace) -> bool:
    started = time.monotonic()
    run_old(stack, tree, python, "manage.py", "migrate", "--noinput")
    run_old(
        stack,
        tree,
        python,
        "-c",
        "import django, os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\n"
        f"django.setup()\nfrom bench.generate import ensure_register\nensure_register({args.members})",
    )
    if args.mailings:
        run_old(stack, tree, python, "-c", MAILINGS.format(count=args.mailings))
    members = int(stack.pg.sql("SELECT count(*) FROM members_member"))
    deliveries = int(stack.pg.sql("SELECT count(*) FROM mailings_delivery"))
    print(
        f"previous release {short}: migrated, {members} members and {deliveries} deliveries "
        f"written in {time.monotonic() - started:.0f} s",
        file=sys.stderr,
    )

    pending = json.loads(stack.python(PENDING).strip().splitlines()[-1])
    member_keys = set(
        stack.pg.sql(
            "SELECT conname FROM pg_constraint"
            " WHERE contype = 'f' AND confrelid = 'members_member'::regclass"
        ).split()
    )
    # A member in the middle of the register: neither the first page nor the newest rows.
    member_id = int(
        stack.pg.sql("SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY id) FROM members_member")
    )

    stop = threading.Event()
    probes = [Probe(kind, sql) for kind, sql in PROBES.items()]
    threads = [
        threading.Thread(
            target=probe_loop,
            args=(stack.pg.url, probe, member_id, args.lock_timeout, stop),
            daemon=True,
        )
        for probe in probes
    ]
    for thread in threads:
        thread.start()
    # Every probe has answered once before the migration starts: the connections are up.
    deadline = time.monotonic() + 30
    while any(not p.results and p.error is None for p in probes):
        if time.monotonic() > deadline:
            raise SystemExit("the probes did not start")
        time.sleep(0.05)

    chunks: list[tuple[float, str]] = []
    began = time.monotonic()
    process = subprocess.Popen(
        [PYTHON, "manage.py", "migrate", "--noinput", "--verbosity", "2"],
        cwd=ROOT,
        env=stack.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader = threading.Thread(target=read_output, args=(process, chunks), daemon=True)
    reader.start()
    errors = process.stderr.read().decode(errors="replace")  # type: ignore[union-attr]
    returncode = process.wait()
    reader.join()
    ended = time.monotonic()
    seconds = ended - began
    time.sleep(0.3)  # a probe or two after the end: the last migration's locks are gone
    stop.set()
    for thread in threads:
        thread.join()

    output = "".join(text for _, text in chunks)
    applied = report(pending, chunks, probes, ended, member_keys)
    ok = returncode == 0
    if not ok:
        print(
            f"migrate failed ({returncode}):\n{output[-3000:]}\n{errors[-3000:]}", file=sys.stderr
        )
    for probe in probes:
        if probe.error is not None:
            print(f"the {probe.kind} probe failed: {probe.error!r}", file=sys.stderr)
            ok = False
    if ok:
        # The current code finds nothing left to migrate and every member still there.
        stack.manage("migrate", "--check")
        after = int(stack.pg.sql("SELECT count(*) FROM members_member"))
        if after != members:
            print(f"members before {members}, after {after}", file=sys.stderr)
            ok = False
        # Not a lock, but what an upgrade leaves behind: the activation day is new in this
        # release, and members activated before it have none unless a migration fills it in.
        unset = stack.pg.sql(
            "SELECT count(*) FROM members_member WHERE status = 'active' AND active_since IS NULL"
        )
        print(f"after the upgrade: {unset} active members without active_since", file=sys.stderr)

    results = [r for p in probes for r in p.results]
    timeouts = sum(1 for r in results if r[2])
    longest = max((r[1] for r in results), default=0.0)
    drill_line(
        "upgrade",
        **{"from": short},
        migrations=applied,
        seconds=round(seconds, 1),
        max_member_lock_ms=round(longest * 1000),
        probes=len(results),
        lock_timeouts=timeouts,
        members=members,
    )
    return ok and timeouts == 0


def report(
    pending: list[dict],
    chunks: list[tuple[float, str]],
    probes: list[Probe],
    ended: float,
    member_keys: set[str],
) -> int:
    """Each migration applied (to stderr): its time, the member-table locks its SQL takes, and
    the longest wait of each probe that started while it ran. Returns how many were applied."""
    # A migration started when its `Applying x...` had arrived whole (it may span two pieces).
    output, starts, seen = "", [], set()
    for at, text in chunks:
        output += text
        for match in re.finditer(r"Applying (\S+?)\.\.\.", output):
            if match.start() not in seen:
                seen.add(match.start())
                starts.append((match.group(1), at))
    durations = dict(re.findall(r"Applying (\S+?)\.\.\. OK \(([\d.]+)s\)", output))
    sql = {m["name"]: m for m in pending}
    print(f"{len(starts)} migrations applied (of {len(pending)} pending):", file=sys.stderr)
    for i, (name, start) in enumerate(starts):
        until = starts[i + 1][1] if i + 1 < len(starts) else ended
        took = durations.get(name, "?")
        print(f"  {name}  {took} s", file=sys.stderr)
        waits = []
        for probe in probes:
            during = [r for r in probe.results if start <= r[0] < until]
            if during:
                worst = max(r[1] for r in during)
                waits.append(f"{probe.kind} {worst * 1000:.0f} ms")
        if waits:
            print(f"      longest probe waits: {', '.join(waits)}", file=sys.stderr)
        migration = sql.get(name)
        if migration is None:
            continue
        notes = member_table_locks(migration["sql"], member_keys)
        if "Raw Python operation" in migration["sql"]:
            notes.append("runs Python code (RunPython): its queries are not in sqlmigrate")
        for note in notes:
            print(f"      members_member: {note}", file=sys.stderr)
        if notes and migration["atomic"]:
            print(
                "      (one transaction: every lock is held until the migration commits)",
                file=sys.stderr,
            )
    for probe in probes:
        if probe.results:
            worst = max(probe.results, key=lambda r: r[1])
            print(
                f"  {probe.kind} probe: {len(probe.results)} probes, longest "
                f"{worst[1] * 1000:.0f} ms, {sum(1 for r in probe.results if r[2])} lock timeouts",
                file=sys.stderr,
            )
    return len(starts)


if __name__ == "__main__":
    main_guard(run)
