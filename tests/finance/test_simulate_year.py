"""The year simulation (`manage.py simulate_year`): every seed keeps the year true, a broken
invariant is reported and fails the run, and the user's database is never the one used."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finance import camt, simulation
from finance.simulation_bank import BankFile, Detail, Entry, iban
from finance.simulation_checks import State, months_in_year, state_on

ROOT = Path(__file__).resolve().parents[2]
MONTHS = [
    "2025-12",
    *(f"2026-{m:02d}" for m in range(1, 13)),
]


def start(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != simulation.SANDBOX}
    return subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "manage.py", "simulate_year", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, list[str], str]:
    stdout, stderr = process.communicate(timeout=600)
    return process.returncode, stdout.splitlines(), stderr


def test_simulated_years_stay_true():
    """Two seeds side by side (a process each, both cores): the whole year for one, five
    months for the other; about 45 s on an idle machine of two cores."""
    runs = {
        (1, 13): start("--members", "300", "--seed", "1"),
        (7, 5): start("--members", "300", "--seed", "7", "--months", "5"),
    }
    for (seed, months), process in runs.items():
        code, lines, stderr = finish(process)
        assert code == 0, "\n".join(lines[-5:]) + stderr[-3000:]
        assert [line[:7] for line in lines[:-1]] == MONTHS[:months]
        assert all(" members=" in line and " struck_off=" in line for line in lines[:-1])
        last = date(2025 + (11 + months) // 12, (11 + months) % 12 + 1, 1)
        assert lines[-1].startswith(
            f"SIMULATION ok members=300 seed={seed} days={(last - date(2025, 12, 1)).days} "
        )
        # Retention years later: ended members told, then anonymised, the past unchanged.
        verdict = dict(part.split("=") for part in lines[-1].split()[2:])
        assert int(verdict["told"]) > 0 and int(verdict["anonymised"]) > 0


def test_retention_that_changed_the_past_fails_the_run():
    code, lines, _stderr = finish(
        start("--members", "60", "--seed", "3", "--months", "2", "--corrupt-retention")
    )
    assert code == 1
    assert lines[-1] == "SIMULATION violation day=2026-01-31 retention: the past changed: ledger"


def test_a_broken_invariant_is_reported_and_fails_the_run():
    code, lines, _stderr = finish(
        start(
            "--members", "40", "--seed", "3", "--months", "1", "--corrupt-balance-on", "2025-12-03"
        )
    )
    assert code == 1
    last = lines[-1]
    assert last.startswith("SIMULATION violation day=2025-12-03 payment_state: member=1")
    assert "stored balance=" in last


def test_a_change_hidden_from_the_checkers_log_is_found_at_the_month_end():
    """The checker reads the rows its change log names each day; on the last day of every
    month it reads all rows afresh, so a change the log missed still stops the run."""
    code, lines, _stderr = finish(
        start(
            "--members", "40", "--seed", "3", "--months", "1", "--corrupt-unseen-on", "2025-12-31"
        )
    )
    assert code == 1
    assert lines[-1].startswith(
        "SIMULATION violation day=2025-12-31 checker_missed_change: day=2025-12-31 member rows"
    )


def test_dues_split_other_than_received_stop_the_run_at_the_month_end():
    code, lines, _stderr = finish(
        start("--members", "40", "--seed", "3", "--months", "1", "--corrupt-share-on", "2025-12-30")
    )
    assert code == 1
    assert lines[-1].startswith("SIMULATION violation day=2025-12-31 share_amount: ")


def test_the_simulation_refuses_any_database_but_its_own(monkeypatch):
    # As if started by the command itself, but on the configured (the user's) database.
    monkeypatch.setenv(simulation.SANDBOX, str(ROOT / "var" / "not-the-sandbox.sqlite3"))
    with pytest.raises(CommandError, match="throwaway database"):
        call_command("simulate_year", "--members", "10", "--seed", "1")


def test_the_jobs_of_a_day_are_read_from_the_beat_schedule():
    from celery.schedules import crontab

    from config.celery import app

    def names(day):
        return [name for _at, name, *_ in simulation.due_jobs(day)]

    assert "finance-run-dues" in names(date(2026, 1, 2))
    assert "finance-run-dues" not in names(date(2026, 1, 3))
    assert "finance-send-statements" in names(date(2026, 3, 1))
    assert "finance-send-statements" not in names(date(2026, 3, 2))
    daily = names(date(2026, 3, 2))
    assert "finance-follow-payment-calendar" in daily
    # The safety nets run on Sunday nights only.
    weekly = {"finance-recompute-payment-states", "members-repair-figures"}
    assert not weekly & set(daily)
    assert weekly <= set(names(date(2026, 3, 8)))  # a Sunday
    # In the order of the hour they run at: the nightly calendar job before the reminders.
    jobs = {name: at for at, name, *_ in simulation.due_jobs(date(2026, 3, 2))}
    assert jobs["finance-follow-payment-calendar"] == time(2, 30)
    assert daily.index("finance-follow-payment-calendar") < daily.index("finance-send-reminders")
    # A new entry takes part without a change to the simulation.
    before = app.conf.beat_schedule
    app.conf.beat_schedule = {
        **before,
        "finance-mondays": {
            "task": "finance.recompute_payment_states",
            "schedule": crontab(minute=0, hour=4, day_of_week=1),
        },
    }
    simulation._beat.cache_clear()
    try:
        assert "finance-mondays" in names(date(2026, 3, 2))  # a Monday
        assert "finance-mondays" not in names(date(2026, 3, 3))
    finally:
        app.conf.beat_schedule = before
        simulation._beat.cache_clear()


def test_balance_and_arrears_are_recomputed_from_the_rows_alone():
    charges = [
        (date(2026, 3, 1), date(2026, 3, 31), Decimal("120.00"), 2026),
        (date(2025, 3, 1), date(2025, 3, 31), Decimal("60.00"), 2025),
    ]
    payments = [
        (date(2025, 4, 2), Decimal("60.00"), "dues"),
        (date(2026, 3, 5), Decimal("50.00"), "dues"),
        (date(2026, 3, 6), Decimal("500.00"), "donation"),  # never settles dues
    ]
    assert state_on(charges, payments, "regular", date(2026, 2, 1)) == State(
        Decimal("0.00"), "paid_up", None
    )
    assert state_on(charges, payments, "regular", date(2026, 3, 10)) == State(
        Decimal("-70.00"), "due", None
    )
    assert state_on(charges, payments, "regular", date(2026, 4, 1)) == State(
        Decimal("-70.00"), "in_arrears", date(2026, 3, 31)
    )
    assert state_on([], [], "exempt", date(2026, 4, 1)) == State(Decimal("0.00"), "exempt", None)


def test_months_of_membership_count_the_exit_day_out():
    assert months_in_year(date(2020, 5, 17), None, 2026) == 12
    assert months_in_year(date(2026, 5, 17), None, 2026) == 8
    assert months_in_year(date(2020, 5, 17), date(2026, 7, 1), 2026) == 6
    assert months_in_year(date(2020, 5, 17), date(2026, 7, 2), 2026) == 7
    assert months_in_year(date(2020, 5, 17), date(2026, 1, 1), 2026) == 0
    assert months_in_year(date(2026, 5, 17), date(2026, 5, 17), 2026) == 0


def test_the_bank_files_are_camt_053_as_the_import_reads_them():
    member = Detail(Decimal("60.00"), reference="MB2026 100001", name="Anna Alt", iban=iban(1))
    batch = [
        Detail(Decimal("10.00"), end_to_end="DD-1", name="Bert", iban=iban(2)),
        Detail(Decimal("12.50"), end_to_end="DD-2", name="Carl", iban=iban(3)),
    ]
    back = Detail(Decimal("10.00"), end_to_end="DD-1", name="Bert", iban=iban(2))
    day = date(2026, 3, 2)
    bank_file = BankFile(
        "S-1",
        day,
        [
            Entry("A", day, True, [member]),
            Entry("B", day, True, batch, family="IDDT", subfamily="ESDD"),
            Entry("C", day, False, [back], family="IDDT", subfamily="UPDD"),  # code only
            Entry("D", day, False, [Detail(Decimal("4.90"), kind="other")], domain="ACMT"),
        ],
    )
    parsed = camt.parse(bank_file.render())
    assert [(b.bank_reference, b.amount, b.is_return or b.reversal) for b in parsed.bookings] == [
        ("A", Decimal("60.00"), False),
        ("B/1", Decimal("10.00"), False),
        ("B/2", Decimal("12.50"), False),
        ("C", Decimal("-10.00"), True),
        ("D", Decimal("-4.90"), False),
    ]
    assert sum(b.amount for b in parsed.bookings) == bank_file.total == Decimal("67.60")
    assert parsed.bookings[0].iban == iban(1) and len(iban(1)) == 22


def test_voting_rights_other_than_the_register_says_stop_the_run_at_the_month_end():
    # assemblies.simulation: the lists of who may vote, checked at every month's end.
    code, lines, _stderr = finish(
        start(
            "--members",
            "40",
            "--seed",
            "3",
            "--months",
            "1",
            "--corrupt-activation-on",
            "2025-12-31",
        )
    )
    assert code == 1
    assert lines[-1].startswith("SIMULATION violation day=2025-12-31 eligibility_pending: ")
