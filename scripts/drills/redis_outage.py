#!/usr/bin/env python3
"""Redis drill: Redis stops for a while as boards work, e-mails are written and a mailing is on
its way. Pages keep serving (no 500), the import and mailing progress say they are waiting,
and once Redis is back every e-mail goes out, each exactly once.

    .venv/bin/python scripts/drills/redis_outage.py [--outage 20] [--members 3000]
"""

from __future__ import annotations

import argparse
import collections
import io
import os
import re
import sys
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import PYTHON, Stack, drill_line, log_in, mails, main_guard, wait_for

PRODUCER = """
import time
from outbox import services
n = 0
deadline = time.monotonic() + {seconds}
while time.monotonic() < deadline:
    n += 1
    services.queue(to=[f"drill-{{n}}@example.org"], subject=f"Drill outbox {{n}}", text="Hallo")
    time.sleep(0.2)
print("produced", n, flush=True)
"""

MAILING = """
from mailings import services
from members.models import Division, User
board = User.objects.get(email="{email}")
state = Division.objects.get(pk={state})
mailing = services.create_mailing(by=board, division=state, values=dict(
    kind="official", sender_name="Drill", reply_to="drill@example.org",
    subject="Drill-Rundschreiben", body="Hallo, dies ist ein Test.", audience={{}}))
services.request_sending(by=board, mailing=mailing)
mailing.refresh_from_db()
print(mailing.pk, mailing.total, mailing.status)
"""


def sheet() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    rows = book.active
    rows.append(["Vorname", "Name", "Str.", "PLZ", "Wohnort", "E-Mail"])
    for i in range(200):
        rows.append(
            [f"Ida{i}", "Ausfall", f"Weg {i}", "04109", "Leipzig", f"ausfall{i}@example.org"]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def run() -> bool:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--outage", type=int, default=int(os.environ.get("DRILL_OUTAGE_SECONDS", "20"))
    )
    parser.add_argument("--members", type=int, default=3000)
    args = parser.parse_args()
    # A mailing that takes about a minute, and a dead worker's claims handed back soon.
    extra = {
        "MAILING_RATE_PER_MINUTE": "600",
        "MAILING_BATCH_SIZE": "20",
        "MAILING_CLAIM_LEASE": "15",
    }
    with Stack() as stack:
        stack.prepare()
        stack.python(f"from bench.generate import ensure_register\nensure_register({args.members})")
        import json

        board, second = json.loads(
            stack.python(
                "import sys\nsys.path.insert(0, 'scripts/drills')\nimport django_side\ndjango_side.dump_boards(2)"
            )
            .strip()
            .splitlines()[-1]
        )
        _, url = stack.web(workers=2, **extra)
        stack.worker("w1", **extra)
        stack.beat(**extra)
        session = requests.Session()
        log_in(session, url, board["email"], board["secret"])
        state = board["state"]

        statuses: collections.Counter = collections.Counter()
        failures: list[str] = []
        stop_browsing = threading.Event()
        # The second board member's pages (boards are spread over the states).
        own = second["state"]
        pages = [
            f"/divisions/{own}/members/",
            "/",
            f"/finance/divisions/{own}/",
            f"/divisions/{own}/members/?q={second['names'][0] if second['names'] else 'Ida'}",
        ]
        pages += [f"/members/{pk}/" for pk in second["members"][:5]]

        outage = {"start": float("inf"), "end": float("inf")}
        during: list[int] = []

        def browse() -> None:
            try:
                pages_until_stopped()
            except Exception as error:  # the thread must not die quietly: a failure to count
                failures.append(f"browsing stopped: {error!r}")

        def pages_until_stopped() -> None:
            browser = requests.Session()
            # Another board member of the same state (a code is accepted once).
            log_in(browser, url, second["email"], second["secret"])
            i = 0
            while not stop_browsing.is_set():
                path = pages[i % len(pages)]
                i += 1
                try:
                    response = browser.get(url + path, allow_redirects=False, timeout=30)
                except requests.RequestException as error:
                    failures.append(f"{path}: {error}")
                    continue
                statuses[response.status_code] += 1
                if outage["start"] <= time.monotonic() <= outage["end"]:
                    during.append(response.status_code)
                if response.status_code >= 500 or "/accounts/login" in response.headers.get(
                    "Location", ""
                ):
                    failures.append(
                        f"{path}: {response.status_code} {response.headers.get('Location', '')}"
                    )
                time.sleep(0.1)

        browsing = threading.Thread(target=browse)
        browsing.start()
        seconds = args.outage + 25
        producer = stack._spawn(
            "producer",
            [PYTHON, "-c", "import django\ndjango.setup()\n" + PRODUCER.format(seconds=seconds)],
            DJANGO_SETTINGS_MODULE="config.settings",
        )
        mailing_id, total, status = stack.python(
            MAILING.format(email=board["email"], state=state)
        ).split()
        print(f"mailing {mailing_id} to {total} members: {status}", file=sys.stderr)
        time.sleep(8)

        stack.redis.stop()
        outage_started = outage["start"] = time.monotonic()
        print("Redis stopped", file=sys.stderr)
        time.sleep(2)
        # A board uploads an import while Redis is gone: the upload is kept, the check waits.
        form = session.get(f"{url}/divisions/{state}/imports/new/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        upload = session.post(
            f"{url}/divisions/{state}/imports/new/",
            data={"csrfmiddlewaretoken": token},
            files={"file": ("ausfall.xlsx", sheet())},
            headers={"Referer": form.url},
        )
        statuses[upload.status_code] += 1
        batch = re.search(r"/imports/(\d+)/", upload.url)
        import_waiting = False
        if batch:
            progress = session.get(f"{url}/imports/{batch.group(1)}/progress/")
            import_waiting = progress.status_code == 200 and "Warte" in progress.text
        mailing_progress = session.get(f"{url}/mailings/{mailing_id}/progress/")
        mailing_waiting = mailing_progress.status_code == 200 and "Warte" in mailing_progress.text
        health = session.get(f"{url}/healthz")
        time.sleep(max(0.0, args.outage - (time.monotonic() - outage_started)))
        outage["end"] = time.monotonic()
        stack.redis.start()
        print("Redis back", file=sys.stderr)

        producer.wait(timeout=seconds + 60)
        produced = int(re.search(r"produced (\d+)", stack.log("producer")).group(1))

        def all_out() -> bool:
            left = stack.pg.sql(
                "SELECT (SELECT count(*) FROM mailings_outboundemail WHERE status IN ('queued', 'sending'))"
                f" + (SELECT count(*) FROM mailings_delivery WHERE mailing_id = {mailing_id}"
                " AND status IN ('queued', 'sending'))"
            )
            return left == "0"

        try:
            wait_for(all_out, 240, "every e-mail to go out")
        except SystemExit:
            print(
                stack.pg.sql("SELECT status, count(*) FROM mailings_outboundemail GROUP BY 1"),
                file=sys.stderr,
            )
            print(
                stack.pg.sql("SELECT status, count(*) FROM mailings_delivery GROUP BY 1"),
                file=sys.stderr,
            )
            print(
                stack.pg.sql("SELECT name, count(*) FROM ops_pendingtask GROUP BY 1"),
                file=sys.stderr,
            )
            print(stack.log("worker-w1")[-4000:], file=sys.stderr)
            print(stack.log("beat")[-2000:], file=sys.stderr)
            print(
                "\n".join(
                    stack.log(p.name)[-3000:] for p in stack.processes if p.name.startswith("web")
                ),
                file=sys.stderr,
            )
            raise
        checked = batch and stack.pg.sql(
            f"SELECT status FROM members_importbatch WHERE id = {batch.group(1)}"
        )
        stop_browsing.set()
        browsing.join()

        sent = mails(stack.mail)
        outbox_sent = {
            to for (subject, to), n in sent.items() if subject.startswith("Drill outbox")
        }
        duplicates = sum(n - 1 for n in sent.values() if n > 1)
        emails_lost = produced - len(outbox_sent)
        failed = stack.pg.sql("SELECT count(*) FROM mailings_outboundemail WHERE status <> 'sent'")
        mailing_sent = stack.pg.sql(
            f"SELECT count(*) FROM mailings_delivery WHERE mailing_id = {mailing_id} AND status = 'sent'"
        )
        mailing_lost = int(total) - sum(
            1 for (subject, _), n in sent.items() if subject == "Drill-Rundschreiben"
        )
        errors = sum(n for code, n in statuses.items() if code >= 500) + len(failures)
        if len(during) < 20:  # the board must really have worked while Redis was gone
            failures.append(f"only {len(during)} pages asked for during the outage")
            errors += 1
        for failure in failures[:10]:
            print("  " + failure, file=sys.stderr)
        print(
            f"  pages {dict(statuses)}; health while down {health.status_code} {health.text}; "
            f"import after Redis came back: {checked}; outbox not sent: {failed}; "
            f"mailing sent {mailing_sent}/{total}",
            file=sys.stderr,
        )
        drill_line(
            "redis_outage",
            outage_s=args.outage,
            requests=sum(statuses.values()),
            errors=errors,
            emails=produced,
            emails_lost=emails_lost,
            mailing=total,
            mailing_lost=mailing_lost,
            duplicates=duplicates,
            import_waiting="yes" if import_waiting else "no",
            mailing_waiting="yes" if mailing_waiting else "no",
        )
        return (
            errors == 0
            and emails_lost == 0
            and mailing_lost == 0
            and duplicates == 0
            and import_waiting
            and mailing_waiting
            and checked == "checked"
        )


if __name__ == "__main__":
    main_guard(run)
