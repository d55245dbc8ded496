#!/usr/bin/env python3
"""Worker drill: the Celery worker is killed outright (SIGKILL to all its processes, at a
random moment) during the monthly statements, the dues run, a reminder run and a switch-over
import, then started again. The task comes back (acks late; a killed worker's message is
delivered again after the visibility timeout) and every statement, charge, reminder and member
exists exactly once: duplicates are counted against the natural keys, and a second run of the
same job afterwards must find nothing missing.

    .venv/bin/python scripts/drills/worker_kill.py [--members 20000] [--switchover-rows 20000] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import Stack, drill_line, mails, main_guard, wait_for

# Each job: how to start it, how to count what it wrote (rows and rows beyond their natural key),
# and how to run it again in-process (what that second run adds was missing).
JOBS = {
    "statements": {
        "task": "finance.send_statements",
        "kill_within": 1.0,  # seconds after the worker took it: the job takes about that long
        "args": "[PERIOD]",
        "rows": "SELECT count(*), count(DISTINCT (division_id, period)) FROM finance_monthlystatement",
        "again": "from finance import statements\nstatements.send_all(period=PERIOD)",
    },
    "dues": {
        "task": "finance.run_dues",
        "kill_within": 3.0,
        "args": "[YEAR]",
        "rows": "SELECT count(*), count(DISTINCT (member_id, year, revision)) FROM finance_charge WHERE kind = 'dues'",
        "again": "from finance import services\nservices.run_dues(year=YEAR)",
    },
    "reminders": {
        "task": "finance.send_reminders",
        "kill_within": 1.0,
        "args": "[]",
        "rows": "SELECT count(*), count(DISTINCT (member_id, arrears_since, level)) FROM finance_reminder",
        "again": "from finance import tasks\ntasks.send_reminders.run()",
    },
}


def kill(stack: Stack, worker) -> None:
    os.killpg(worker.pid, signal.SIGKILL)  # the main process and its pool, no goodbye
    worker.wait()
    stack.processes.remove(worker)


def received(log: str, task: str) -> bool:
    return f"Task {task}[" in log and " received" in log.split(f"Task {task}[", 1)[1][:80]


def succeeded(log: str, task: str) -> int:
    return sum(
        1
        for line in log.splitlines()
        if '"event": "task"' in line
        and f'"task": "{task}"' in line
        and '"state": "SUCCESS"' in line
    )


def drill(
    stack: Stack, name: str, job: dict, rng: random.Random, extra: dict, values: dict
) -> dict:
    args = job["args"]
    again = job["again"]
    for key, value in values.items():
        args = args.replace(key, json.dumps(value))
        again = again.replace(
            key,
            str(value)
            if key != "PERIOD"
            else f"__import__('datetime').date.fromisoformat('{value}')",
        )
    worker = stack.worker(f"{name}1", concurrency=1, **extra)
    stack.python(f"from config.celery import app\napp.send_task('{job['task']}', {args})")
    wait_for(
        lambda: "received" in stack.log(worker.name).lower(),
        30,
        f"{name}: the worker to take the task",
    )
    delay = rng.uniform(0.05, job["kill_within"])
    time.sleep(delay)
    finished_before = succeeded(stack.log(worker.name), job["task"]) > 0
    kill(stack, worker)
    restarted = stack.worker(f"{name}2", concurrency=1, **extra)
    if not finished_before:
        wait_for(
            lambda: succeeded(stack.log(restarted.name), job["task"]) > 0,
            300,
            f"{name}: the task to come back and finish",
        )
    total, distinct = map(int, stack.pg.sql(job["rows"]).split("|"))
    stack.python(again)
    after, _ = map(int, stack.pg.sql(job["rows"]).split("|"))
    stop_worker(stack, restarted)
    print(
        f"  {name}: killed after {delay:.1f} s ({'after' if finished_before else 'during'} the run); "
        f"{total} rows, {total - distinct} duplicates, {after - total} missing",
        file=sys.stderr,
    )
    return {
        "hit": not finished_before,
        "duplicates": total - distinct,
        "missing": after - total,
        "rows": total,
    }


def stop_worker(stack: Stack, worker) -> None:
    from harness import stop

    stop(worker)
    stack.processes.remove(worker)


def run() -> bool:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--members", type=int, default=int(os.environ.get("DRILL_WORKER_MEMBERS", "20000"))
    )
    parser.add_argument(
        "--switchover-rows", type=int, default=int(os.environ.get("DRILL_SWITCHOVER_ROWS", "20000"))
    )
    parser.add_argument(
        "--seed", type=int, default=int(os.environ.get("DRILL_SEED", str(int(time.time()))))
    )
    args = parser.parse_args()
    rng = random.Random(args.seed)
    # A killed worker's task is delivered again after this many seconds (production: an hour).
    extra = {"CELERY_VISIBILITY_TIMEOUT": "5"}
    results = {}
    with Stack() as stack:
        stack.prepare()
        stack.python(f"from bench.generate import ensure_register\nensure_register({args.members})")
        today = (
            stack.python("from django.utils import timezone\nprint(timezone.localdate())")
            .strip()
            .splitlines()[-1]
        )
        year, month = int(today[:4]), int(today[5:7])
        values = {"PERIOD": f"{year}-{month:02d}-01", "YEAR": year + 1}
        for name, job in JOBS.items():
            results[name] = drill(stack, name, job, rng, extra, values)
        # What the jobs sent, before the switch-over's database (whose demo accounts get the
        # same welcome e-mails as this one's) writes to a mail folder of its own.
        sent = mails(stack.mail)

        # The switch-over comes into an empty register: a database of its own on the same server.
        stack.pg.sql("CREATE DATABASE switchover")
        url = stack.pg.url.rsplit("/", 1)[0] + "/switchover"
        stack.manage("migrate", "--noinput", DATABASE_URL=url)
        record = (
            stack.python(
                "import sys\nsys.path.insert(0, '.')\nfrom datetime import date\n"
                "from django.core.management import call_command\nfrom finance import switchover\n"
                "from finance.models import FeeRule\nfrom bench.generate import YEARLY, _divisions\n"
                "from bench.switchover import export\n"
                "call_command('seed_demo', members=0, stdout=open('/dev/null', 'w'))\n"
                "FeeRule.objects.all().delete()\n"
                "[FeeRule.objects.create(fee_class=k, yearly_amount=v, valid_from=date(2000, 1, 1)) for k, v in YEARLY.items()]\n"
                "_divisions()\n"
                f"record = switchover.create(by=None, content=export({args.switchover_rows}), filename='alt.csv')\n"
                "switchover.check(record)\nrecord.refresh_from_db()\nassert record.report.get('ready'), record.report\n"
                "type(record).objects.filter(pk=record.pk).update(status='applying')\nprint(record.pk)",
                DATABASE_URL=url,
            )
            .strip()
            .splitlines()[-1]
        )
        job = {
            "task": "finance.apply_switchover",
            "args": f"[{record}, None]",
            "rows": "SELECT count(*), count(DISTINCT membership_number) FROM members_member",
            "again": "",
        }
        switch_extra = {
            **extra,
            "DATABASE_URL": url,
            "MAIL_OPTIONS": json.dumps({"file_path": str(stack.work / "mail-switchover")}),
        }
        worker = stack.worker("switchover1", concurrency=1, **switch_extra)
        stack.python(
            f"from config.celery import app\napp.send_task('finance.apply_switchover', [{record}, None])",
            DATABASE_URL=url,
        )
        wait_for(
            lambda: "received" in stack.log(worker.name).lower(),
            30,
            "switch-over: the worker to take it",
        )
        delay = rng.uniform(0.5, 5.0)
        time.sleep(delay)
        finished_before = succeeded(stack.log(worker.name), job["task"]) > 0
        kill(stack, worker)
        restarted = stack.worker("switchover2", concurrency=1, **switch_extra)
        if not finished_before:
            wait_for(
                lambda: succeeded(stack.log(restarted.name), job["task"]) > 0,
                600,
                "switch-over: the task to come back and finish",
            )
        status = (
            stack.python(
                f"from finance.models import Switchover\nprint(Switchover.objects.get(pk={record}).status)",
                DATABASE_URL=url,
            )
            .strip()
            .splitlines()[-1]
        )
        total, distinct = map(int, _sql(url, job["rows"]).split("|"))
        stop_worker(stack, restarted)
        missing = args.switchover_rows - total
        print(
            f"  switchover: killed after {delay:.1f} s ({'after' if finished_before else 'during'} the run); "
            f"{status}; {total} members, {total - distinct} duplicates, {missing} missing",
            file=sys.stderr,
        )
        results["switchover"] = {
            "hit": not finished_before,
            "duplicates": total - distinct,
            "missing": missing,
            "rows": total,
        }

        # The rows above exist once by their unique constraints; what could really go out twice
        # is e-mail (statements to treasurers, reminders to members): each message once.
        emails_twice = sum(n - 1 for n in sent.values() if n > 1)
        queued_twice = int(
            stack.pg.sql(
                'SELECT count(*) - count(DISTINCT (subject, "to"::text)) FROM mailings_outboundemail'
            )
        )

    duplicates = sum(r["duplicates"] for r in results.values()) + emails_twice + queued_twice
    missing = sum(r["missing"] for r in results.values())
    hits = sum(r["hit"] for r in results.values())
    drill_line(
        "worker_kill",
        runs=len(results),
        killed_mid_run=hits,
        duplicates=duplicates,
        missing=missing,
        emails=sum(sent.values()),
        emails_twice=emails_twice,
        seed=args.seed,
        **{f"{name}_rows": r["rows"] for name, r in results.items()},
    )
    # A run whose every kill came after its job had finished proved nothing: rerun (new seed).
    return duplicates == 0 and missing == 0 and hits > 0


def _sql(url: str, query: str) -> str:
    import subprocess

    out = subprocess.run(
        ["psql", url, "-XAtq", "-c", query], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


if __name__ == "__main__":
    main_guard(run)
