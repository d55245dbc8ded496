"""The federal switch-over of a whole register (finance.switchover), measured on a database of
its own (as in production, the register is empty before it): the previous system's export in
its own spelling, dry-run, then applied.

    python bench/switchover.py --rows 500000   (DATABASE_URL: an empty database)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("MUSTERROLLE_TESTING", "1")
os.environ["DJANGO_DEBUG"] = "0"
os.environ["MAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from finance import switchover  # noqa: E402
from finance.models import FeeRule  # noqa: E402
from members.models import Division, DivisionLevel, Member  # noqa: E402

FIRST = ["Anna", "Bernd", "Clara", "Dieter", "Eva", "Frank", "Gabi", "Hans", "Ines", "Jan"]
LAST = ["Ahorn", "Birke", "Eiche", "Esche", "Linde", "Pappel", "Ulme", "Weide", "Zeder"]
STATUSES = ["aktiv"] * 17 + ["ausgetreten", "verstorben", "gestrichen"]


def export(rows: int, *, first_number: int = 100_001) -> bytes:
    """The old system's export: semicolons, Windows-1252, German dates and amounts, the state
    as a code and the district as people write it ("KV NW 12")."""
    rng = random.Random(7)
    districts = list(
        Division.objects.filter(level=DivisionLevel.DISTRICT).values_list("name", "path")
    )
    states = {d.path: d.code for d in Division.objects.filter(level=DivisionLevel.STATE)}
    amounts = [
        f"{rule.yearly_amount:.2f}".replace(".", ",")
        for rule in FeeRule.objects.filter(fee_class__in=["regular", "reduced"])
    ]
    lines = [
        "MitglNr;Nachname;Vorname;Straße;PLZ;Ort;E-Mail;GebDatum;LV;KV;Eintritt;Status;"
        "Austritt;Jahresbeitrag;IBAN;Saldo"
    ]
    for i in range(rows):
        name, path = districts[i % len(districts)]
        status = rng.choice(STATUSES)
        joined = date(rng.randint(1990, 2024), rng.randint(1, 12), rng.randint(1, 28))
        left = f"{rng.randint(1, 28):02d}.0{rng.randint(1, 9)}.2025" if status != "aktiv" else ""
        balance = rng.choice(["0,00"] * 7 + ["-72,00", "-120,00", "12,50"])
        lines.append(
            f"{first_number + i};{rng.choice(LAST)}-{i};{rng.choice(FIRST)};"
            f"Weg {i % 90 + 1};{10000 + i % 89999:05d};Ort {i % 500};"
            f"m{first_number + i}@example.net;{rng.randint(1, 28):02d}."
            f"{rng.randint(1, 12):02d}.{rng.randint(1940, 2005)};{states[path[:8]]};"
            f"{name.replace('Kreisverband', 'KV')};{joined:%d.%m.%Y};{status};{left};"
            f"{rng.choice(amounts)};DE02120300000000202051;{balance}"
        )
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    rows = parser.parse_args().rows
    from bench.generate import YEARLY, _divisions

    call_command("migrate", verbosity=0)
    call_command("seed_demo", members=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
    FeeRule.objects.all().delete()
    for fee_class, amount in YEARLY.items():
        FeeRule.objects.create(
            fee_class=fee_class, yearly_amount=amount, valid_from=date(2000, 1, 1)
        )
    _divisions()
    content = export(rows)
    record = switchover.create(by=None, content=content, filename="altsystem.csv")
    # As `manage.py switchover FILE --apply` does it: the dry run, then the apply.
    started = time.perf_counter()
    found = switchover.dry_run(record)
    dry_run = time.perf_counter() - started
    report = record.report
    if not report.get("ready"):
        raise SystemExit(
            f"switchover: the bench's file is not ready: {report.get('error')} "
            f"{report.get('refused_reasons')} {report.get('open_values')}"
        )
    print(f"BENCH switchover_dry_run rows={rows} seconds={dry_run:.1f}", flush=True)
    started = time.perf_counter()
    brought = switchover.apply(record, by=None, found=found)
    seconds = dry_run + time.perf_counter() - started
    if brought != rows or Member.objects.count() != rows:
        raise SystemExit(f"switchover: {brought} of {rows} members brought in")
    print(f"BENCH switchover rows={rows} seconds={seconds:.1f}", flush=True)


if __name__ == "__main__":
    main()
