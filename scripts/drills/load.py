#!/usr/bin/env python3
"""Load drill: 50 board users (Locust, headless) against gunicorn and PostgreSQL with the bench
register, logged in through the real login with a second factor; then the same against two web
processes and two Celery workers, every request going to the next process (no sticky sessions).

    .venv/bin/python scripts/drills/load.py [--users 50] [--seconds 60] [--members 500000]
        [--keep DIR]   (the PostgreSQL cluster with the register, kept for the next run)
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import BIN, ROOT, Stack, drill_line, main_guard, stop


def locust(
    stack: Stack, users_file: Path, hosts: list[str], users: int, seconds: int, offset: int
) -> dict:
    prefix = stack.work / f"locust-{offset}"
    env = {
        **os.environ,
        "DRILL_USERS": str(users_file),
        "DRILL_HOSTS": ",".join(hosts),
        "DRILL_USER_OFFSET": str(offset),
    }
    out = subprocess.run(
        [
            str(BIN / "locust"),
            "-f",
            str(ROOT / "scripts" / "drills" / "locustfile.py"),
            "--headless",
            "-u",
            str(users),
            "-r",
            str(max(1, users // 5)),
            "-t",
            f"{seconds}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--stop-timeout",
            "10",
            "--exit-code-on-error",
            "0",
        ],
        cwd=ROOT / "scripts" / "drills",
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"locust failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv")))  # noqa: SIM115
    total = next(row for row in rows if row["Name"] == "Aggregated")
    failures = list(csv.DictReader(open(f"{prefix}_failures.csv")))  # noqa: SIM115
    for failure in failures:
        print(
            f"  failure: {failure['Method']} {failure['Name']}: {failure['Error']} x{failure['Occurrences']}",
            file=sys.stderr,
        )
    for row in rows:
        if row["Name"] != "Aggregated":
            print(
                f"  {row['Name']:<40} n={row['Request Count']:>6} p50={row['50%']:>5} p95={row['95%']:>5}",
                file=sys.stderr,
            )
    # A user whose login failed raised in on_start: Locust records it as an exception, not a
    # failed request; count those as errors too, and every page must have been asked for.
    exceptions = list(csv.DictReader(open(f"{prefix}_exceptions.csv")))  # noqa: SIM115
    for exception in exceptions:
        print(f"  exception x{exception['Count']}: {exception['Message']}", file=sys.stderr)
    names = {row["Name"] for row in rows}
    missing = {
        "member list",
        "search",
        "member page",
        "dashboard",
        "finance overview",
        "mailing compose",
    } - names
    if missing:
        print(f"  pages never requested: {sorted(missing)}", file=sys.stderr)
    return {
        "requests": int(total["Request Count"]),
        "rps": round(float(total["Requests/s"]), 1),
        "p50_ms": total["50%"],
        "p95_ms": total["95%"],
        "errors": int(total["Failure Count"])
        + sum(int(e["Count"]) for e in exceptions)
        + len(missing),
    }


def run() -> bool:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=int(os.environ.get("DRILL_USERS_COUNT", "50")))
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("DRILL_SECONDS", "60")))
    parser.add_argument(
        "--members", type=int, default=int(os.environ.get("DRILL_MEMBERS", "500000"))
    )
    parser.add_argument("--keep", default=os.environ.get("DRILL_PG"))
    args = parser.parse_args()
    keep = f"{args.keep}-{args.members}" if args.keep else None
    with Stack(keep=keep) as stack:
        stack.prepare()
        started = time.monotonic()
        stack.python(f"from bench.generate import ensure_register\nensure_register({args.members})")
        print(
            f"register of {args.members} members ready after {time.monotonic() - started:.0f} s",
            file=sys.stderr,
        )
        users_file = stack.work / "users.json"
        users_file.write_text(
            stack.python(
                "import sys\nsys.path.insert(0, 'scripts/drills')\nimport django_side\n"
                f"django_side.dump_boards({2 * args.users})"
            )
            .strip()
            .splitlines()[-1]
        )

        web, url = stack.web(workers=4)
        stack.worker("w1")
        one = locust(stack, users_file, [url], args.users, args.seconds, offset=0)
        drill_line(
            "load",
            users=args.users,
            seconds=args.seconds,
            members=args.members,
            web=1,
            workers=1,
            **one,
        )
        stop(web)

        # Scale out: two web processes and two workers, nothing shared but PostgreSQL and Redis.
        _, url_a = stack.web(workers=2)
        _, url_b = stack.web(workers=2)
        stack.worker("w2")
        two = locust(stack, users_file, [url_a, url_b], args.users, args.seconds, offset=args.users)
        drill_line(
            "load_scaled",
            users=args.users,
            seconds=args.seconds,
            members=args.members,
            web=2,
            workers=2,
            **two,
        )
        return (
            one["errors"] == 0
            and two["errors"] == 0
            and one["requests"] > 0
            and two["requests"] > 0
        )


if __name__ == "__main__":
    main_guard(run)
