#!/usr/bin/env python3
"""Backup drill: the register is dumped with pg_dump (custom format), restored with pg_restore
into a second, empty PostgreSQL server, and both servers must then hold the same data: the
same rows in every table, the same ledger per state, the same member records and versions
byte for byte, and the same sequences, indexes and constraints. A backup that has never been
restored is only a hope; this drill restores one at the register's real size and times it.

    .venv/bin/python scripts/drills/backup_restore.py [--members 500000]
        [--keep DIR]   (the PostgreSQL cluster with the register, kept for the next run)
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Postgres, Stack, drill_line, main_guard

# The tables whose rows are compared byte for byte, not only counted: the register itself and
# every earlier state of each record (what a restore must never lose or reorder).
CHECKSUMMED = ["members_member", "members_memberversion"]
# Rows hashed per group: string_agg builds one text value per group, and PostgreSQL refuses
# text over 1 GB (millions of versions at 500,000 members would exceed it in one piece).
HASH_GROUP = 50_000


def connect(postgres: Postgres) -> psycopg.Connection:
    """A read-only snapshot, in UTC: both servers print dates and times in the same zone, and
    the counts and hashes of one fingerprint are read from one consistent state."""
    conn = psycopg.connect(postgres.url)
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    conn.execute("SET TimeZone = 'UTC'")
    conn.execute("SET DateStyle = 'ISO, YMD'")
    conn.execute("SET extra_float_digits = 3")
    return conn


def fingerprint(postgres: Postgres) -> dict[str, dict[Any, Any]]:
    """What must be equal after a restore, part by part (each part a dict, to name what
    differs)."""
    with connect(postgres) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        counts = {
            table: conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] for table in tables
        }
        # Money per state association, both sides of the ledger: a restore that lost or
        # doubled bookings of one state shows here even if the total row count matched.
        ledger: dict[Any, Any] = {}
        for side, table, join in [
            ("charges", "finance_charge", "JOIN"),
            ("payments", "finance_payment", "LEFT JOIN"),
        ]:
            rows = conn.execute(
                f"SELECT coalesce(s.code, '-'), count(*), sum(x.amount) FROM {table} x "
                f"{join} members_member m ON m.id = x.member_id "
                "LEFT JOIN members_division s ON s.id = m.state_id GROUP BY 1 ORDER BY 1"
            )
            for state, n, total in rows:
                ledger[(side, state)] = (n, str(total))
        checksums = {
            table: conn.execute(
                "SELECT sum(n)::bigint, md5(string_agg(h, '' ORDER BY g)) FROM ("
                f" SELECT t.id / {HASH_GROUP} AS g, count(*) AS n,"
                "  md5(string_agg(t::text, '|' ORDER BY t.id)) AS h"
                f" FROM {table} t GROUP BY 1) groups"
            ).fetchone()
            for table in CHECKSUMMED
        }
        # A restore that forgot a sequence's value fails on the first insert after it (a
        # duplicate key), not during the drill: so the values are compared too.
        sequences = dict(
            conn.execute(
                "SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'"
            ).fetchall()
        )
        # pg_restore --jobs builds indexes and constraints in parallel, after the data: one
        # that failed would leave the rows identical and the database slow or unguarded. They
        # are compared by their shape (table, columns by name, kind, valid), not by their SQL:
        # PostgreSQL prints an expression parsed again from a dump in another, equal form
        # (`= ANY ((ARRAY['a'::varchar])::text[])` comes back as
        # `= ANY (ARRAY[('a'::varchar)::text])`). Columns are named, not numbered: the numbers
        # differ after a restore wherever a migration dropped a column.
        indexes = {
            name: shape
            for name, *shape in conn.execute(
                "SELECT c.relname, t.relname, am.amname, i.indisunique, i.indisprimary,"
                " i.indisvalid, i.indexprs IS NOT NULL, i.indpred IS NOT NULL,"
                " (SELECT array_agg(coalesce(a.attname, '(expression)') ORDER BY k.n)"
                "  FROM unnest(i.indkey) WITH ORDINALITY k(attnum, n) LEFT JOIN pg_attribute a"
                "  ON a.attrelid = i.indrelid AND a.attnum = k.attnum)"
                " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am am ON am.oid = c.relam"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
            )
        }
        constraints = {
            (table, name): shape
            for table, name, *shape in conn.execute(
                "SELECT c.conrelid::regclass::text, c.conname, c.contype, c.convalidated,"
                " c.confrelid::regclass::text,"
                " (SELECT array_agg(a.attname ORDER BY k.n)"
                "  FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a"
                "  ON a.attrelid = c.conrelid AND a.attnum = k.attnum)"
                " FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace"
                " WHERE n.nspname = 'public'"
            )
        }
    return {
        "row counts": counts,
        "ledger per state": ledger,
        "row checksums": checksums,
        "sequences": sequences,
        "indexes": indexes,
        "constraints": constraints,
    }


def differences(source: dict, restored: dict) -> list[str]:
    """One line per part that differs, naming up to five of its differing entries."""
    lines = []
    for part, before in source.items():
        after = restored[part]
        if before == after:
            continue
        keys = sorted({*before, *after}, key=str)
        wrong = [k for k in keys if before.get(k) != after.get(k)]
        shown = "; ".join(
            f"{k}: {before.get(k, 'missing')} -> {after.get(k, 'missing')}" for k in wrong[:5]
        )
        more = f" (and {len(wrong) - 5} more)" if len(wrong) > 5 else ""
        lines.append(f"{part} differ in {len(wrong)} entries: {shown}{more}")
    return lines


def tool(postgres: Postgres, name: str, *args: str) -> subprocess.CompletedProcess:
    """A PostgreSQL client tool of the server's own version (pg_dump refuses a newer server;
    the custom format of a newer pg_dump is unreadable to an older pg_restore), as root over
    TCP: the drill's servers trust local connections."""
    return subprocess.run(
        [
            str(postgres.bin / name),
            "-h",
            "127.0.0.1",
            "-p",
            str(postgres.port),
            "-U",
            "musterrolle",
            *args,
        ],
        capture_output=True,
        text=True,
    )


def run() -> bool:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--members", type=int, default=int(os.environ.get("DRILL_MEMBERS", "500000"))
    )
    parser.add_argument("--keep", default=os.environ.get("DRILL_PG"))
    args = parser.parse_args()
    keep = f"{args.keep}-{args.members}" if args.keep else None
    # No Redis: nothing here queues a task, and the drill measures PostgreSQL alone.
    with Stack(keep=keep, redis=False) as stack:
        stack.manage("migrate", "--noinput")
        started = time.monotonic()
        stack.python(f"from bench.generate import ensure_register\nensure_register({args.members})")
        print(
            f"register of {args.members} members ready after {time.monotonic() - started:.0f} s",
            file=sys.stderr,
        )

        dump = stack.work / "musterrolle.dump"
        started = time.monotonic()
        out = tool(stack.pg, "pg_dump", "--format=custom", "-d", "musterrolle", "-f", str(dump))
        dump_seconds = time.monotonic() - started
        if out.returncode:
            raise SystemExit(f"pg_dump failed:\n{out.stderr[-3000:]}")
        dump_mb = dump.stat().st_size / 1e6

        # The second server is a new cluster as the packages set one up (fsync on, default
        # memory), not the drill's tuned one: a restore in an emergency runs on that.
        home = stack.work / "restore"
        home.mkdir()
        if os.getuid() == 0:
            shutil.chown(home, "postgres")
        target = Postgres(home, fast=False)
        try:
            target.start()  # with an empty database `musterrolle`
            started = time.monotonic()
            out = tool(
                target, "pg_restore", "--no-owner", "--jobs", "2", "-d", "musterrolle", str(dump)
            )
            restore_seconds = time.monotonic() - started
            problems = []
            if out.returncode:
                problems.append(f"pg_restore exited {out.returncode}:\n{out.stderr[-3000:]}")
            # The app itself must find its schema complete: no migration missing.
            stack.manage("migrate", "--check", DATABASE_URL=target.url)

            started = time.monotonic()
            source = fingerprint(stack.pg)
            restored = fingerprint(target)
            problems += differences(source, restored)
            print(
                f"fingerprints read in {time.monotonic() - started:.0f} s: "
                f"{len(source['row counts'])} tables, {sum(source['row counts'].values())} rows, "
                f"{len(source['indexes'])} indexes, {len(source['constraints'])} constraints",
                file=sys.stderr,
            )
            for table, (n, digest) in source["row checksums"].items():
                print(f"  {table}: {n} rows, md5 {digest}", file=sys.stderr)
        finally:
            target.stop()

        for problem in problems:
            print(f"  differs: {problem}", file=sys.stderr)
        identical = not problems
        drill_line(
            "backup_restore",
            identical="yes" if identical else "no",
            members=args.members,
            seconds=round(dump_seconds + restore_seconds, 1),
            dump_seconds=round(dump_seconds, 1),
            restore_seconds=round(restore_seconds, 1),
            dump_mb=round(dump_mb, 1),
        )
        return identical


if __name__ == "__main__":
    main_guard(run)
