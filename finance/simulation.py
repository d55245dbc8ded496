"""A party's year, simulated day by day: the proof that the register, the ledger and all
that is derived from them stay true.

`manage.py simulate_year` runs `simulate()` in a process of its own, on an SQLite file in a
temporary directory (never the user's database), with tasks run at once and e-mail going
nowhere. A frozen clock advances from 1 December through the following year; each day,
driven by one seeded random generator:

- the scheduled jobs of config/celery.py's beat schedule that are due that day, at their
  hour (read from the schedule, so new entries take part without a change here);
- the federal office: strike-off decisions and objections, review items assigned, splits
  accepted;
- the register: admissions, exits and deaths, transfers within the state and to and from
  another one, tier and class changes, new and ended reductions;
- the members: dues paid by transfer (with the references people really write), direct
  debits collected and returned, donations; unknown payers, references naming two members,
  bank fees; all of it booked from CAMT.053 files (finance.simulation_bank);
- at night, every invariant (finance.simulation_checks); the first that fails stops the run.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import math
import random
import sys
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.backends.signals import connection_created

from finance.simulation_bank import BankFile, Detail, Entry, iban
from finance.simulation_checks import Checker, MemberRow, Violation

# The command's child process runs with this set to its database file; nothing else may.
SANDBOX = "MUSTERROLLE_SIMULATION_DB"
ZERO = Decimal(0)
CENT = Decimal("0.01")
TIERS = "72,120,180,240,360,480,600"
FIRST_NUMBER = 100001
BUSINESS = time(9, 0)
NIGHT = time(23, 0)


@dataclass
class Options:
    members: int
    seed: int
    state: str = "SN"
    months: int = 13
    start: date | None = None  # 1 December of the year before the simulated one
    # Test hook: on this day, after the jobs, the stored balance of one member is changed,
    # so that the test sees the violation reported.
    corrupt_balance_on: date | None = None
    # Test hook: the same, hidden from the checker's change log (its monthly full read must
    # find it).
    corrupt_unseen_on: date | None = None
    # Test hook: a dues payment's share made a cent larger than the payment (its parts still
    # adding up to it), for the monthly check of the split.
    corrupt_share_on: date | None = None
    corrupt_activation_on: date | None = None
    # Test hook: retention after the year also clears a payment's amount, for the check that
    # anonymisation keeps every ledger sum.
    corrupt_retention: bool = False


@dataclass
class Person:
    """What the simulation knows of a member that the register does not: how they pay."""

    pk: int
    number: int
    first_name: str
    last_name: str
    iban: str
    kind: str  # punctual, late, debit, lapsing, never
    partner: tuple[str, str] | None = None  # (name, IBAN) of someone who pays for them
    reminded: int = 0  # the highest reminder level received
    threatened: bool = False  # a strike-off was decided
    objects: bool = False  # will object to a strike-off

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Month:
    admitted: int = 0
    payments: int = 0
    returns: int = 0
    donations: int = 0
    review: int = 0


@dataclass
class Pending:
    """Money a member sent that the ledger does not show yet (not imported, or waiting in
    review): the member does not pay it twice."""

    amount: Decimal
    member: int
    ready_on: date | None = None  # a review item the office resolves from this day


@dataclass
class Totals:
    days: int = 0
    payments: int = 0
    reminders: int = 0
    struck_off: int = 0
    admitted: int = 0
    files: int = 0


# Checks that the apps built on the register add at each month's end (assemblies: who may
# vote on that day), registered at start-up: the simulation imports none of them.
MonthEndCheck = Callable[[Checker, date], None]
MONTH_END_CHECKS: list[MonthEndCheck] = []


def register_month_end_check(check: MonthEndCheck) -> None:
    if check not in MONTH_END_CHECKS:
        MONTH_END_CHECKS.append(check)


# Checks run once the year is over (privacy: retention years later keeps the past whole);
# each returns figures for the verdict line, or raises Violation.
AfterRunCheck = Callable[[date, "Options"], dict[str, int]]
AFTER_RUN_CHECKS: list[AfterRunCheck] = []


def register_after_run_check(check: AfterRunCheck) -> None:
    if check not in AFTER_RUN_CHECKS:
        AFTER_RUN_CHECKS.append(check)


def simulate(options: Options, write: Callable[[str], None]) -> int:
    """Run the year; returns the exit code (1 on a violation). Prints a line per month and
    the verdict."""
    simulation = Simulation(options, write)
    return simulation.run()


def _fast_sqlite(sender: Any, connection: Any, **kwargs: Any) -> None:
    """A throwaway database needs no durability: no syncing, a large page cache."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for pragma in (
                "synchronous = OFF",
                "cache_size = -262144",
                "temp_store = MEMORY",
                "mmap_size = 268435456",
            ):
                cursor.execute(f"PRAGMA {pragma}")


def _berlin(day: date, at: time) -> datetime:
    return datetime.combine(day, at, tzinfo=ZoneInfo(settings.TIME_ZONE))


def _months_later(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _years_after(day: date, years: int) -> date:
    """The same day `years` later (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


class Simulation:
    def __init__(self, options: Options, write: Callable[[str], None]) -> None:
        self.options = options
        self.write = write
        self.rng = random.Random(options.seed)  # noqa: S311 - a simulation, not a secret
        self.first = options.start or date(2025, 12, 1)
        self.last = _months_later(self.first.replace(day=1), options.months) - timedelta(days=1)
        self.year = self.first.year + 1 if self.first.month == 12 else self.first.year
        self.people: dict[int, Person] = {}
        self.pending: dict[str, Pending] = {}  # bank reference -> not yet in the ledger
        self.review: dict[str, Pending] = {}  # bank reference -> waits for the office
        self.splits: dict[str, date] = {}  # bank reference -> the office accepts it then
        self.entries: list[Entry] = []  # booked, not yet in a file
        self.last_file: BankFile | None = None
        self.collecting: set[int] = set()  # members with a direct debit under way
        self.returns: list[tuple[date, Entry]] = []  # returns the bank books later
        self.decisions: dict[int, date] = {}  # strike-off id -> the office decides then
        self.objections: dict[int, date] = {}  # strike-off id -> the member objects then
        self.month = Month()
        self.totals = Totals()
        self.touched: set[date] = set()
        self.seq = 0
        self.clock: Any = None
        self.day = self.first
        self._tick = 0
        self._last_reminder = 0
        self._last_statement = 0

    # --- the run ---------------------------------------------------------------------

    def run(self) -> int:
        import time_machine

        connection_created.connect(_fast_sqlite, dispatch_uid="finance.simulation")
        connection.close()  # the next query opens a connection with those settings
        traveller = time_machine.travel(
            _berlin(self.first - timedelta(days=1), time(8)), tick=False
        )
        self.clock = traveller.start()
        phase = "setting up"
        extra: dict[str, int] = {}
        try:
            self.setup()
            self.checker = Checker()
            self.checker.start()
            self._last_reminder = self._max_id("finance", "Reminder")
            self._last_statement = self._max_id("finance", "MonthlyStatement")
            for day in _days(self.first, self.last):
                self.day = day
                phase = f"simulating {day}"
                self.simulate_day(day)
                self.totals.days += 1
            phase = "checking after the year"
            for check in AFTER_RUN_CHECKS:
                extra.update(check(self.last, self.options))
        except Violation as violation:
            if violation.__cause__ is not None:  # a job failed: where, for the one who looks
                traceback.print_exception(violation.__cause__, file=sys.stderr)
            self.write(f"SIMULATION violation day={self.day} {violation.name}: {violation.details}")
            return 1
        except Exception as error:  # the code under test failed: that is a finding, too
            traceback.print_exc(file=sys.stderr)
            self.write(
                f"SIMULATION violation day={self.day} exception: {type(error).__name__} while "
                f"{phase}: {str(error)[:300]}"
            )
            return 1
        finally:
            traveller.stop()
        t = self.totals
        self.write(
            f"SIMULATION ok members={self.options.members} seed={self.options.seed} "
            f"days={t.days} payments={t.payments} reminders={t.reminders} struck_off={t.struck_off}"
            + "".join(f" {name}={value}" for name, value in extra.items())
        )
        return 0

    def _max_id(self, app: str, model: str) -> int:
        from django.apps import apps

        manager = apps.get_model(app, model).objects
        return manager.order_by("-pk").values_list("pk", flat=True).first() or 0

    def at(self, day: date, when: time) -> None:
        self.clock.move_to(_berlin(day, when))
        self._tick = 0

    def tick(self) -> None:
        """Each business event a second later than the one before: its rows keep the order."""
        self._tick += 1
        self.clock.move_to(_berlin(self.day, BUSINESS) + timedelta(seconds=self._tick * 2))

    def simulate_day(self, day: date) -> None:
        self.touched = {day}
        jobs = due_jobs(day)
        for job in [j for j in jobs if j[0] < BUSINESS]:
            self.run_job(day, *job)
        self.at(day, BUSINESS)
        self.office(day)
        self.register(day)
        self.pay(day)
        if self._file_day(day):
            self.import_file(day)
        for job in [j for j in jobs if j[0] >= BUSINESS]:
            self.run_job(day, *job)
        self.at(day, NIGHT)
        if day == self.options.corrupt_balance_on:
            self._corrupt()
        if day == self.options.corrupt_unseen_on:
            self._corrupt(unseen=True)
        if day == self.options.corrupt_share_on:
            self._corrupt_share()
        if day == self.options.corrupt_activation_on:
            self._corrupt_activation(day)
        self.checker.daily(day, self.touched)
        self._learn(day)
        if day == self.last or (day + timedelta(days=1)).day == 1:
            self.checker.check_files(day)
            self.checker.check_shares(day)
            for check in MONTH_END_CHECKS:
                check(self.checker, day)
            months = sorted({d.replace(day=1) for d in _days(self.first, day)})
            self.checker.check_dashboard(day, self.state, months)
            self.report_month(day)

    def run_job(self, day: date, at: time, name: str, task: Any, args: tuple, kwargs: dict) -> None:
        self.clock.move_to(_berlin(day, at))
        try:
            task(*args, **kwargs)
        except Exception as error:
            raise Violation(
                "job_failed",
                f"day={day} {name} ({task.name}) raised {type(error).__name__}: {error}",
            ) from error
        if task.name in CHECKED_AFTER:
            self._after_job(day)

    def _after_job(self, day: date) -> None:
        """What a job made is checked against the ledger of that moment: statements, reminders."""
        from finance.models import MonthlyStatement, Reminder, StrikeOff

        statements = list(
            MonthlyStatement.objects.filter(pk__gt=self._last_statement)
            .select_related("division")
            .order_by("pk")
        )
        reminders = Reminder.objects.filter(pk__gt=self.checker.last_reminder).exists()
        struck_off = StrikeOff.objects.filter(
            status=StrikeOff.Status.STRUCK_OFF, member__left_on=day
        ).exists()
        if not (statements or reminders or struck_off):
            return
        self.checker.refresh(day)
        for statement in statements:
            self._last_statement = statement.pk
            self.checker.check_statement(day, statement)
        self.checker.check_reminders(day)
        self.checker.check_struck_off(day)

    def _corrupt_activation(self, day: date) -> None:
        """An active member recorded as active only from tomorrow: pending on the cut-off
        to whoever reads the register's dates, active to whoever reads its status."""
        from members.models import Member, MemberStatus

        victim = Member.objects.filter(status=MemberStatus.ACTIVE).order_by("pk").first()
        if victim is not None:
            Member.objects.filter(pk=victim.pk).update(active_since=day + timedelta(days=1))

    def _corrupt_share(self) -> None:
        from django.db.models import F

        from finance.models import Share

        victim = Share.objects.order_by("-pk").first()
        if victim is not None:
            Share.objects.filter(pk=victim.pk).update(
                amount=F("amount") + CENT, federal_amount=F("federal_amount") + CENT
            )

    def _corrupt(self, *, unseen: bool = False) -> None:
        from members.models import Member

        victim = Member.objects.current().order_by("pk").first()
        if victim is not None:
            Member.objects.filter(pk=victim.pk).update(balance=victim.balance + CENT)
            if unseen:
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"DELETE FROM {self.checker.log.TABLE} WHERE kind = 'member' AND id = %s",  # noqa: S608
                        [victim.pk],
                    )

    # --- the world at the start ------------------------------------------------------

    def setup(self) -> None:
        from finance import payments
        from finance.models import FeeRule
        from members import figures
        from members import services as members
        from members.models import DivisionLevel, NumberSequence

        NumberSequence.objects.update_or_create(
            name="membership", defaults={"last_value": FIRST_NUMBER - 1}
        )
        code = self.options.state.upper()
        other = "SH" if code != "SH" else "SN"

        def add(name: str, code: str, level: str, parent: Any) -> Any:
            return members.add_division(name=name, code=code, level=level, parent=parent, by=None)

        root = add("Bundesverband", "BUND", DivisionLevel.FEDERAL, None)
        self.state = add(f"Landesverband {code}", code, DivisionLevel.STATE, root)
        self.districts = [
            add(f"Kreisverband {code}-{i}", f"{code}-{i}", DivisionLevel.DISTRICT, self.state)
            for i in range(1, 5)
        ]
        self.districts.append(
            add(f"Ortsverband {code}-1-1", f"{code}-1-1", DivisionLevel.LOCAL, self.districts[0])
        )
        self.other = add(f"Landesverband {other}", other, DivisionLevel.STATE, root)
        self.other_districts = [
            add(f"Kreisverband {other}-{i}", f"{other}-{i}", DivisionLevel.DISTRICT, self.other)
            for i in range(1, 3)
        ]
        since = date(2016, 1, 1)
        change = date(self.year, 1, 1)
        for fee_class, amount, valid_from, valid_until in (
            ("regular", "120.00", since, None),
            ("reduced", "36.00", since, change - timedelta(days=1)),
            ("reduced", "24.00", change, None),  # a new rule from the simulated year on
            ("minor", "12.00", since, None),
            ("exempt", "0.00", since, None),
        ):
            FeeRule.objects.create(
                fee_class=fee_class,
                yearly_amount=Decimal(amount),
                valid_from=valid_from,
                valid_until=valid_until,
                tiers=TIERS if fee_class == "regular" else "",
            )
        self.office_user = self._users()
        self._populate()
        figures.repair()
        payments.recompute_all()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # the planner's statistics, as a live database has them

    def _users(self) -> Any:
        from django.contrib.auth.models import Permission

        from members.models import Role, RoleAssignment, User

        office = User.objects.create_user(email="bundesgeschaeftsstelle@sim.invalid", is_staff=True)
        office.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=["members", "finance", "outbox", "mailings"]
            )
        )
        for state in (self.state, self.other):
            for role in (Role.BOARD, Role.TREASURER):
                user = User.objects.create_user(email=f"{role}-{state.code.lower()}@sim.invalid")
                RoleAssignment.objects.create(
                    user=user, division=state, role=role, valid_from=date(2020, 1, 1)
                )
        return User.objects.get(pk=office.pk)  # permissions read afresh

    def _fields(self, state_code: str, on: date, *, old: bool) -> dict[str, Any]:
        """Someone's register fields on `on`: a name, an address, a fee class as the finance
        order allows it (`old`: a record of the register at the start)."""
        from members.demo_data import PLACES, person

        values = person(self.rng, state_code if state_code in PLACES else "SN", on)
        values["email"] = ""
        rng = self.rng
        fee_class = rng.choices(["regular", "reduced", "minor", "exempt"], weights=[78, 12, 6, 4])[
            0
        ]
        values["fee_class"] = fee_class
        values["dues_tier"] = None
        values["reduced_until"] = None
        if fee_class == "regular" and rng.random() < 0.45:
            values["dues_tier"] = Decimal(rng.choice(TIERS.split(",")))
        elif fee_class == "reduced":  # granted for at most a year; some ran out already
            values["reduced_until"] = on + timedelta(days=rng.randint(-60 if old else 30, 365))
        elif fee_class == "minor" and old:  # half of them turn 18 in the simulated year
            years = 18 if rng.random() < 0.5 else rng.randint(15, 17)
            values["date_of_birth"] = date(self.year - years, 1, 1) + timedelta(
                days=rng.randint(0, 364)
            )
        elif fee_class == "minor":  # 14 to 17 years old today
            values["date_of_birth"] = on - timedelta(days=rng.randint(14 * 366, 18 * 365 - 10))
        return values

    def _person(self, pk: int, number: int, values: dict[str, Any], kind: str) -> Person:
        partner = None
        if self.rng.random() < 0.08:
            partner = (
                f"{self.rng.choice(['A.', 'K.', 'M.'])} {values['last_name']}",
                iban(number + 5_000_000),
            )
        person = Person(
            pk=pk,
            number=number,
            first_name=values["first_name"],
            last_name=values["last_name"],
            iban=iban(number),
            kind=kind,
            partner=partner,
            objects=self.rng.random() < 0.25,
        )
        self.people[pk] = person
        return person

    def _kind(self, *, new: bool = False) -> str:
        if new:
            return self.rng.choices(["punctual", "late", "debit", "never"], [68, 14, 12, 6])[0]
        return self.rng.choices(
            ["punctual", "late", "debit", "lapsing", "never"], [56, 18, 15, 8, 3]
        )[0]

    def _populate(self) -> None:
        """The register as the simulation finds it, written in bulk: members who joined in the
        last eight years (a few left already) with their period and first version; then the
        ledger of the last three years (_history)."""
        from members.models import Member, MembershipPeriod, MemberVersion, PeriodStart

        rng = self.rng
        today = self.first - timedelta(days=1)
        plans = [
            (self.state, self.districts, self.options.members),
            (self.other, self.other_districts, max(20, self.options.members // 10)),
        ]
        members: list[Member] = []
        kinds: dict[int, str] = {}
        number = FIRST_NUMBER - 1
        for state, districts, count in plans:
            for _ in range(count):
                number += 1
                values = self._fields(state.code, today, old=True)
                joined = today - timedelta(days=int(8 * 365 * rng.random() ** 1.6) + 5)
                if values["fee_class"] == "minor":
                    joined = max(joined, _years_after(values["date_of_birth"], 14))
                    joined = min(joined, today - timedelta(days=5))
                if rng.random() < 0.8:
                    values["email"] = f"mitglied{number}@example.org"
                left = None
                if rng.random() < 0.08:
                    left = joined + timedelta(days=rng.randint(40, max(41, (today - joined).days)))
                    left = min(left, today)
                member = Member(
                    membership_number=number,
                    division=rng.choice(districts),
                    state=state,
                    joined_on=joined,
                    status="ended" if left else "pending",
                    left_on=left,
                    end_reason="exit" if left else "",
                    **values,
                )
                member.search_text = member.compute_search_text()
                members.append(member)
                kinds[number] = self._kind()
        Member.objects.bulk_create(members, batch_size=2000)
        periods, versions = [], []
        for member in members:
            periods.append(
                MembershipPeriod(
                    member=member,
                    division=member.division,
                    started_on=member.joined_on,
                    start_kind=PeriodStart.ENTRY,
                    ended_on=member.left_on,
                    end_kind=member.end_reason,
                )
            )
            versions.append(
                MemberVersion(
                    member=member,
                    version=1,
                    values=member.register_values(),
                    reason="Simulation: the register at the start",
                )
            )
            values = {"first_name": member.first_name, "last_name": member.last_name}
            self._person(
                member.pk, member.membership_number, values, kinds[member.membership_number]
            )
        MembershipPeriod.objects.bulk_create(periods, batch_size=2000)
        MemberVersion.objects.bulk_create(versions, batch_size=2000)
        self._history(members, today)

    def _history(self, members: list[Any], today: date) -> None:
        """Charge the past years as the dues run would (its own reckoning, services.dues_for,
        written in bulk: the run itself would take minutes here), book what people paid, and
        make those active whose first dues are paid (or who owe none)."""
        from finance import services
        from finance.models import Charge, FeeRule, Payment
        from members.models import Member

        rules = list(FeeRule.objects.order_by("-valid_from"))
        charges: dict[int, list[tuple[int, date, Decimal]]] = defaultdict(list)
        dues: list[Charge] = []
        for member in members:
            # The ledger began three years ago: what members owed before is long settled.
            for year in range(max(member.joined_on.year, today.year - 2), today.year + 1):
                amount, due_on, overdue_on = services.dues_for(
                    year=year,
                    joined_on=member.joined_on,
                    left_on=member.left_on,
                    fee_class=member.fee_class,
                    reduced_until=member.reduced_until,
                    rules=rules,
                    tier=member.dues_tier,
                    date_of_birth=member.date_of_birth,
                )
                if not amount:
                    continue
                charges[member.pk].append((year, due_on, amount))
                dues.append(
                    Charge(
                        member_id=member.pk,
                        year=year,
                        amount=amount,
                        due_on=due_on,
                        overdue_on=overdue_on,
                        memo=f"Beitrag {year}",
                    )
                )
        Charge.objects.bulk_create(dues, batch_size=2000)
        rng = self.rng
        rows: list[Payment] = []
        settled: list[int] = []
        for member in members:
            person = self.people[member.pk]
            years = sorted(y for y in charges[member.pk] if y[2] > 0)
            lapse = None
            if person.kind == "lapsing" and years and years[0][0] < today.year:
                lapse = rng.randint(years[0][0] + 1, today.year)
            paid_first = False
            for index, (year, due_on, net) in enumerate(years):
                if person.kind == "never" or (lapse and year >= lapse):
                    break
                delay = {"punctual": 20, "debit": 2, "late": 150}.get(person.kind, 40)
                booked = due_on + timedelta(days=rng.randint(0, delay))
                if booked > today or (
                    member.left_on and booked >= member.left_on + timedelta(days=60)
                ):
                    continue
                debit = person.kind == "debit"
                rows.append(
                    Payment(
                        member_id=member.pk,
                        match=Payment.Match.NUMBER,
                        amount=net,
                        booked_on=booked,
                        method=Payment.Method.DIRECT_DEBIT if debit else Payment.Method.TRANSFER,
                        purpose=Payment.Purpose.DUES,
                        reference=f"MB{year} {member.membership_number}",
                        counterparty_name=person.name,
                        counterparty_iban=person.iban,
                        end_to_end_id=f"OLD-{member.membership_number}-{year}" if debit else "",
                    )
                )
                if index == 0:
                    paid_first = True
            if member.status != "ended" and (paid_first or member.fee_class == "exempt"):
                settled.append(member.pk)
        Payment.objects.bulk_create(rows, batch_size=2000)
        Member.objects.filter(pk__in=settled).update(status="active")

    # --- the scheduled jobs ----------------------------------------------------------

    def _learn(self, day: date) -> None:
        """What the members hear of: reminders, decisions to strike them off."""
        from finance.models import Reminder, StrikeOff

        for member_id, level in Reminder.objects.filter(pk__gt=self._last_reminder).values_list(
            "member_id", "level"
        ):
            person = self.people.get(member_id)
            if person:
                person.reminded = max(person.reminded, level)
        self._last_reminder = self._max_id("finance", "Reminder")
        for member_id in StrikeOff.objects.filter(
            status=StrikeOff.Status.DECIDED, decided_on=day
        ).values_list("member_id", flat=True):
            self.people[member_id].threatened = True

    # --- the federal office ----------------------------------------------------------

    def office(self, day: date) -> None:
        from finance import arrears, payments
        from finance.models import Payment, StrikeOff
        from members.models import Member

        rng = self.rng
        for strike in StrikeOff.objects.filter(
            status__in=[StrikeOff.Status.PROPOSED, StrikeOff.Status.DECIDED]
        ).order_by("pk"):
            if strike.status == StrikeOff.Status.PROPOSED:
                when = self.decisions.setdefault(strike.pk, day + timedelta(days=rng.randint(1, 6)))
                if when > day:
                    continue
                self.tick()
                try:
                    arrears.decide_strike_off(strike=strike, by=self.office_user, on=day)
                except ValidationError:  # paid meanwhile: the daily job drops it
                    continue
                person = self.people[strike.member_id]
                if person.objects:
                    self.objections[strike.pk] = day + timedelta(days=rng.randint(2, 25))
            elif self.objections.get(strike.pk) == day:
                self.tick()
                arrears.record_objection(
                    strike=strike, by=self.office_user, note="Widerspruch per Brief"
                )
        # Review items the office can place: the money of a known member.
        for payment in Payment.objects.filter(
            member__isnull=True, bank_reference__in=list(self.review)
        ).exclude(match__in=[Payment.Match.SPLIT, Payment.Match.DIVIDED]):
            waiting = self.review[payment.bank_reference]
            if waiting.ready_on and waiting.ready_on <= day:
                self.tick()
                payments.assign_payment(
                    payment=payment,
                    member=Member.objects.get(pk=waiting.member),
                    by=self.office_user,
                )
                del self.review[payment.bank_reference]
        for ref, when in list(self.splits.items()):
            if when > day:
                continue
            payment = Payment.objects.get(bank_reference=ref)
            parts = [
                (Member.objects.get(pk=int(part["member"])), Decimal(part["amount"]))
                for part in payment.proposal
            ]
            self.tick()
            payments.split_payment(payment=payment, parts=parts, by=self.office_user)
            del self.splits[ref]
            for key in [k for k in self.review if k.startswith(ref + "@")]:
                del self.review[key]

    # --- the register ----------------------------------------------------------------

    def _current(self) -> list[MemberRow]:
        return [row for row in self.checker.members.values() if row.status != "ended"]

    def _in(self, rows: list[MemberRow], divisions: list[Any]) -> list[MemberRow]:
        ids = {d.pk for d in divisions}
        return [row for row in rows if row.division_id in ids]

    def _times(self, per_year: float) -> int:
        """How many of an event happen today, for `per_year` of them in a year."""
        limit, count, product = math.exp(-per_year / 365), 0, self.rng.random()
        while product > limit:
            count += 1
            product *= self.rng.random()
        return count

    def register(self, day: date) -> None:
        from members import services as members
        from members.models import EndReason, Member, MembershipPeriod

        rng = self.rng
        size = self.options.members
        current = self._current()
        done: set[int] = set()
        ours = self._in(current, self.districts)
        theirs = self._in(current, self.other_districts)

        def pick(rows: list[MemberRow], test: Callable[[MemberRow], bool] = lambda r: True) -> Any:
            rows = [r for r in rows if r.pk not in done and test(r)]
            while rows:
                row = rows.pop(rng.randrange(len(rows)))
                done.add(row.pk)
                member = Member.objects.get(pk=row.pk)
                if member.status != "ended":  # struck off this morning
                    return member
            return None

        for divisions, per_year in (
            (self.districts, size * 0.14),
            (self.other_districts, size * 0.02),
        ):
            for _ in range(self._times(per_year)):
                self.tick()
                self._admit(day, rng.choice(divisions))
        for _ in range(self._times(size * 0.06)):
            member = pick(ours + theirs)
            if member is None:
                break
            reason = rng.choices(
                [EndReason.EXIT, EndReason.DEATH, EndReason.INELIGIBLE], [86, 11, 3]
            )[0]
            start = (
                MembershipPeriod.objects.filter(member=member, ended_on__isnull=True)
                .values_list("started_on", flat=True)
                .first()
            )
            on = day - timedelta(days=rng.randint(1, 12)) if rng.random() < 0.3 else day
            on = max(on, start or member.joined_on)
            self.tick()
            members.end_membership(by=None, member=member, on=on, reason=reason)
            self.touched.add(on)
        moves = (
            (ours, self.districts, size * 0.03),  # within the state
            (ours, self.other_districts, size * 0.01),  # to another state
            (theirs, self.districts, size * 0.012),  # from another state
        )
        for rows, targets, per_year in moves:
            for _ in range(self._times(per_year)):
                member = pick(rows)
                if member is None:
                    break
                to = rng.choice([d for d in targets if d.pk != member.division_id])
                self.tick()
                members.transfer_member(by=None, member=member, to=to, on=day)
        changes = (
            (size * 0.05, lambda r: r.fee_class == "regular", self._new_tier),
            (size * 0.025, lambda r: r.fee_class == "regular", self._new_reduction),
            (size * 0.01, lambda r: r.fee_class == "reduced", self._reduction_ends),
            (size * 0.01, lambda r: r.fee_class == "reduced", self._reduction_extended),
            (size * 0.004, lambda r: r.fee_class in ("regular", "reduced"), self._exempted),
            (size * 0.003, lambda r: r.fee_class == "exempt", self._no_longer_exempt),
        )
        for per_year, test, change in changes:
            for _ in range(self._times(per_year)):
                member = pick(ours + theirs, test)
                if member is None:
                    break
                self.tick()
                members.update_member(by=None, member=member, changes=change(day, member))

    def _admit(self, day: date, division: Any) -> None:
        from members import services as members

        joined = day
        if self.rng.random() < 0.2:  # the form came in late
            joined = day - timedelta(days=self.rng.randint(1, 25))
        values = self._fields(division.code.split("-")[0], day, old=False)
        number_hint = len(self.people) + FIRST_NUMBER
        if self.rng.random() < 0.8:
            values["email"] = f"neu{number_hint}@example.org"
        member = members.admit_member(by=None, division=division, values=values, joined_on=joined)
        self._person(member.pk, member.membership_number, values, self._kind(new=True))
        self.touched.add(joined)
        self.month.admitted += 1
        self.totals.admitted += 1

    def _new_tier(self, day: date, member: Any) -> dict[str, Any]:
        tiers = [Decimal(t) for t in TIERS.split(",") if Decimal(t) != member.dues_tier]
        return {"dues_tier": self.rng.choice([*tiers, None])}

    def _new_reduction(self, day: date, member: Any) -> dict[str, Any]:
        until = day + timedelta(days=self.rng.randint(60, 365))
        return {"fee_class": "reduced", "reduced_until": until, "dues_tier": None}

    def _reduction_ends(self, day: date, member: Any) -> dict[str, Any]:
        return {"fee_class": "regular", "reduced_until": None}

    def _reduction_extended(self, day: date, member: Any) -> dict[str, Any]:
        """Another year, counted from the old end, at most a year from today."""
        later = max(member.reduced_until or day, day) + timedelta(days=365)
        return {"reduced_until": min(later, day + timedelta(days=365))}

    def _exempted(self, day: date, member: Any) -> dict[str, Any]:
        return {"fee_class": "exempt", "reduced_until": None, "dues_tier": None}

    def _no_longer_exempt(self, day: date, member: Any) -> dict[str, Any]:
        return {"fee_class": "regular"}

    # --- the members pay -------------------------------------------------------------

    def owed(self, pk: int, sent: dict[int, Decimal]) -> Decimal:
        """What the member believes they still owe: the ledger's debt today, less money
        sent that the ledger does not show yet."""
        state = self.checker.current(pk, self.day)
        return max(ZERO, -state.balance - sent.get(pk, ZERO))

    def _sent_by_member(self) -> dict[int, Decimal]:
        sent: dict[int, Decimal] = defaultdict(Decimal)
        for waiting in [*self.pending.values(), *self.review.values()]:
            sent[waiting.member] += waiting.amount
        return sent

    def pay(self, day: date) -> None:
        rng = self.rng
        sent = self._sent_by_member()
        collections: list[Detail] = []
        debtors: list[tuple[Person, Decimal]] = []
        for pk, row in self.checker.members.items():
            person = self.people.get(pk)
            if person is None:
                continue
            owed = self.owed(pk, sent)
            if owed <= 0:
                continue
            if row.status == "ended" and rng.random() > 0.02:
                continue
            chance = {
                "punctual": 0.09,
                "late": 0.05 if person.reminded else 0.012,
                "lapsing": 0.004 if person.reminded >= 2 else 0.0,
                "never": 0.0,
            }.get(person.kind, 0.0)
            if person.threatened:
                chance = max(chance, 0.04)
            if person.kind == "debit" and pk not in self.collecting and row.status != "ended":
                collections.append(self._collection(person, owed))
            elif rng.random() < chance:
                debtors.append((person, owed))
        if collections:
            self._book_collections(day, collections)
        couples = [d for d in debtors if rng.random() < 0.06]
        while len(couples) >= 2:
            (a, owed_a), (b, owed_b) = couples.pop(), couples.pop()
            debtors = [d for d in debtors if d[0] not in (a, b)]
            self._split_payment(day, a, owed_a, b, owed_b)
        for person, owed in debtors:
            self._transfer(day, person, owed)
        size = self.options.members
        for _ in range(self._times(size * 0.25)):
            self._donation(day)
        for _ in range(self._times(size * 0.05)):
            self._unknown_payer(day)
        for _ in range(self._times(size * 0.004)):
            self._unknown_return(day)
        if (day + timedelta(days=1)).day == 1:
            self._bank_fee(day)
        for when, entry in [r for r in self.returns if r[0] <= day]:
            self.returns.remove((when, entry))
            self.entries.append(entry)
            detail = entry.details[0]
            self.pending[entry.ref] = Pending(-detail.amount, detail.member or 0)

    def _ref(self, kind: str) -> str:
        self.seq += 1
        return f"SIM{self.day:%Y%m%d}{kind}{self.seq:06d}"

    def _reference(self, person: Person) -> tuple[str, bool]:
        """A reference as people write it; and whether it names the member for certain."""
        n, y = person.number, self.day.year
        spellings: list[tuple[str, bool, int]] = [
            (f"MB{y} {n}", True, 40),
            (f"mb {y}/{n}", True, 8),
            (f"MB-{y}-{n:09d}", True, 4),
            (f"MB{y}{n}", True, 3),
            (f"Mitgl.-Nr. {n}", True, 8),
            (f"Mitgliedsnummer: {n} Beitrag", True, 5),
            (f"MNr {n}", True, 3),
            (f"Beitrag {y} Nr. {n} {person.last_name}", True, 5),
            (f"Mitgliedsbeitrag {person.name}", False, 10),  # no number: the IBAN may know
            ("", False, 6),  # nothing at all
            (f"MB{y} {str(n).replace('0', 'O', 1)}", False, 4),  # a typo
            (f"Beitrag {y} {person.first_name}", False, 4),
        ]
        text, certain, _w = self.rng.choices(spellings, [s[2] for s in spellings])[0]
        return text, certain

    def _amount(self, owed: Decimal) -> Decimal:
        roll = self.rng.random()
        if roll < 0.08:
            return (owed / 10).quantize(Decimal(1), rounding=ROUND_CEILING) * 10
        if roll < 0.13 and owed >= 2:
            return (owed / 2).quantize(CENT)
        return owed

    def _transfer(self, day: date, person: Person, owed: Decimal) -> None:
        text, certain = self._reference(person)
        name, account = person.name, person.iban
        if person.partner and self.rng.random() < 0.5:
            name, account = person.partner
        amount = self._amount(owed)
        detail = Detail(
            amount=amount,
            reference=text,
            name=name,
            iban=account,
            kind="dues",
            member=person.pk,
            expect_match=certain,
        )
        self._book(Entry(ref=self._ref("T"), booked_on=day, credit=True, details=[detail]))

    def _book(self, entry: Entry, shares: tuple[Decimal, ...] = ()) -> None:
        """The bank books it; the member counts it as paid from now on."""
        self.entries.append(entry)
        for detail, ref in zip(entry.details, entry.bank_references(), strict=True):
            if detail.member and detail.kind in ("dues", "return"):
                signed = detail.amount if entry.credit else -detail.amount
                self.pending[ref] = Pending(signed, detail.member)
            elif detail.kind == "split":
                for pk, part in zip(detail.members, shares, strict=True):
                    self.pending[f"{ref}@{pk}"] = Pending(part, pk)

    def _collection(self, person: Person, owed: Decimal) -> Detail:
        self.collecting.add(person.pk)
        return Detail(
            amount=owed,
            reference=f"MB{self.day.year} {person.number} Mitgliedsbeitrag Lastschrift",
            name=person.name,
            iban=person.iban,
            end_to_end=f"SIM-DD-{person.number}-{self.day:%Y%m%d}",
            kind="dues",
            member=person.pk,
        )

    def _book_collections(self, day: date, collections: list[Detail]) -> None:
        entry = Entry(
            ref=self._ref("D"),
            booked_on=day,
            credit=True,
            details=collections,
            family="IDDT",
            subfamily="ESDD",
        )
        self._book(entry)
        for detail, ref in zip(entry.details, entry.bank_references(), strict=True):
            if self.rng.random() < 0.07:
                self._schedule_return(day, detail, ref)
            else:  # what is collected counts as paid: no second collection
                self.collecting.discard(detail.member or 0)

    def _schedule_return(self, day: date, detail: Detail, original: str) -> None:
        """The member's bank gives the direct debit back a few days later, saying so in one
        of the ways banks do."""
        rng = self.rng
        variant = rng.choice(["reversal", "reason", "code", "gvc"])
        back = Detail(
            amount=detail.amount,
            reference=f"RUECKLASTSCHRIFT {detail.reference}",
            name=detail.name,
            iban=detail.iban,
            end_to_end=detail.end_to_end,
            return_reason=rng.choice(["AC04", "MD06", "AM04", "MS03"])
            if variant in ("reversal", "reason")
            else "",
            kind="return",
            member=detail.member,
            original=original,
        )
        entry = Entry(
            ref=self._ref("R"),
            booked_on=day + timedelta(days=rng.randint(1, 8)),
            credit=False,
            details=[back],
            family="IDDT",
            subfamily="UPDD" if variant == "code" else "ESDD",
            reversal=variant == "reversal",
            proprietary="NRTI+109+0000" if variant == "gvc" else "",
        )
        self.returns.append((entry.booked_on, entry))
        person = self.people.get(detail.member or 0)
        if person and rng.random() < 0.6:
            person.kind = "late"  # the mandate is gone: they transfer from now on

    def _split_payment(
        self, day: date, a: Person, owed_a: Decimal, b: Person, owed_b: Decimal
    ) -> None:
        y = day.year
        text = self.rng.choice(
            [
                f"MB{y} {a.number} und MB{y} {b.number}",
                f"Beitraege Mitgl.-Nr. {a.number}, Mitgl.-Nr. {b.number}",
            ]
        )
        detail = Detail(
            amount=owed_a + owed_b,
            reference=text,
            name=a.name,
            iban=a.iban,
            kind="split",
            members=(a.pk, b.pk),
        )
        entry = Entry(ref=self._ref("S"), booked_on=day, credit=True, details=[detail])
        self._book(entry, (owed_a, owed_b))

    def _donation(self, day: date) -> None:
        rng = self.rng
        amount = Decimal(rng.choice([10, 20, 25, 50, 100, 250]))
        current = [
            p
            for pk, p in self.people.items()
            if self.checker.members.get(pk) and self.checker.members[pk].status != "ended"
        ]
        if current and rng.random() < 0.6:
            person = rng.choice(current)
            if rng.random() < 0.5:
                text, member, certain = f"Spende MB{day.year} {person.number}", person.pk, True
            else:
                text, member, certain = "Spende Wahlkampf", person.pk, False
            detail = Detail(
                amount=amount,
                reference=text,
                name=person.name,
                iban=person.iban,
                kind="donation",
                member=member,
                expect_match=certain,
            )
        else:
            self.seq += 1
            detail = Detail(
                amount=amount,
                reference=rng.choice(["Spende", "Spende fuer den Wahlkampf", "SPENDE Sommerfest"]),
                name=f"Gönnerin Nummer{self.seq}",
                iban=iban(90_000_000 + self.seq),
                kind="donation",
                member=None,
                expect_match=False,
            )
        self._book(Entry(ref=self._ref("P"), booked_on=day, credit=True, details=[detail]))

    def _unknown_payer(self, day: date) -> None:
        self.seq += 1
        detail = Detail(
            amount=Decimal(self.rng.choice([5, 12, 36, 120])),
            reference=self.rng.choice(["Danke", "Beitrag", "Rechnung vom Mai", ""]),
            name=f"Unbekannt Zahlerin{self.seq}",
            iban=iban(80_000_000 + self.seq),
            kind="dues",
            member=None,
            expect_match=False,
        )
        self._book(Entry(ref=self._ref("U"), booked_on=day, credit=True, details=[detail]))

    def _unknown_return(self, day: date) -> None:
        """A return of a direct debit collected before the simulation's files began."""
        self.seq += 1
        detail = Detail(
            amount=Decimal("60.00"),
            reference="RUECKLASTSCHRIFT Mitgliedsbeitrag",
            name=f"Ehemals Mitglied{self.seq}",
            iban=iban(70_000_000 + self.seq),
            end_to_end=f"ALT-DD-{self.seq}",
            return_reason="AC04" if self.rng.random() < 0.5 else "",
            kind="return",
            member=None,
        )
        self._book(
            Entry(
                ref=self._ref("X"),
                booked_on=day,
                credit=False,
                details=[detail],
                family="IDDT",
                subfamily="UPDD",
            ),
        )

    def _bank_fee(self, day: date) -> None:
        detail = Detail(
            amount=Decimal("12.90"), reference=f"Kontoführungsentgelt {day:%m/%Y}", kind="other"
        )
        self._book(
            Entry(
                ref=self._ref("F"),
                booked_on=day,
                credit=False,
                details=[detail],
                domain="ACMT",
                family="MDOP",
                subfamily="CHRG",
            ),
        )

    # --- bank files ------------------------------------------------------------------

    def _file_day(self, day: date) -> bool:
        return day.day == 2 or day == self.last or self.rng.random() < 0.12

    def import_file(self, day: date) -> None:
        from finance import payments
        from finance.models import Payment

        repeated: set[str] = set()
        entries = list(self.entries)
        if self.last_file is not None and self.rng.random() < 0.3:
            # The bank's files overlap: the same booking again, already booked before.
            for entry in self.rng.sample(
                self.last_file.entries, min(2, len(self.last_file.entries))
            ):
                entries.append(entry)
                repeated.update(entry.bank_references())
        if not entries:
            return
        self.totals.files += 1
        bank_file = BankFile(
            statement_id=f"SIM-{day.isoformat()}-{self.totals.files}", created=day, entries=entries
        )
        owners = self._iban_owners({d.iban for e in bank_file.entries for d in e.details})
        for entry in bank_file.entries:
            for detail in entry.details:
                detail.account_of = frozenset(owners.get(detail.iban, ()))
                if (
                    detail.member
                    and not detail.expect_match
                    and detail.kind in ("dues", "donation")
                ):
                    # Matched for certain by the account when only this member paid from it.
                    detail.expect_match = detail.account_of == {detail.member}
        self.tick()
        statement = payments.import_statement(
            content=bank_file.render(), filename=f"{bank_file.statement_id}.xml", by=None
        )
        self.checker.check_bank_file(day, bank_file, statement, repeated)
        self.entries = []
        self.last_file = BankFile(
            bank_file.statement_id,
            day,
            [e for e in entries if not repeated.intersection(e.bank_references())],
        )
        made = {
            p.bank_reference: p
            for p in Payment.objects.filter(statement=statement, split_from__isnull=True)
        }
        for entry in self.last_file.entries:
            for detail, ref in zip(entry.details, entry.bank_references(), strict=True):
                payment = made[ref]
                self._count(payment)
                waiting = self.pending.pop(ref, None)
                if detail.kind == "split":
                    self.splits[ref] = day + timedelta(days=self.rng.randint(1, 6))
                    for key in [k for k in self.pending if k.startswith(ref + "@")]:
                        self.review[key] = self.pending.pop(key)
                elif waiting is not None and payment.member_id is None and payment.amount > 0:
                    waiting.ready_on = day + timedelta(days=self.rng.randint(2, 30))
                    self.review[ref] = waiting
                if detail.kind == "return" and detail.member:
                    self.collecting.discard(detail.member)  # the next collection may follow

    def _iban_owners(self, accounts: set[str]) -> dict[str, set[int]]:
        """Who has paid from these accounts, as the ledger knows it."""
        from finance.models import Payment

        owners: dict[str, set[int]] = defaultdict(set)
        for account, member_id in (
            Payment.objects.filter(member__isnull=False, counterparty_iban__in=accounts - {""})
            .values_list("counterparty_iban", "member_id")
            .distinct()
        ):
            owners[account].add(member_id)
        return owners

    def _count(self, payment: Any) -> None:
        if payment.purpose == "donation":
            self.month.donations += 1
        elif payment.purpose == "other":
            return
        elif payment.member_id is None:
            self.month.review += 1
        elif payment.amount < 0:
            self.month.returns += 1
        else:
            self.month.payments += 1
            self.totals.payments += 1

    # --- the month's line ------------------------------------------------------------

    def report_month(self, day: date) -> None:
        from finance.models import Reminder

        first = day.replace(day=1)
        subtree = {d.pk for d in self.districts} | {self.state.pk}
        rows = self.checker.members.values()
        current = sum(1 for r in rows if r.status != "ended" and r.division_id in subtree)
        ended = sum(1 for r in rows if r.left_on and first <= r.left_on <= day)
        struck = sum(
            1
            for r in rows
            if r.end_reason == "struck_off" and r.left_on and first <= r.left_on <= day
        )
        reminders = Reminder.objects.filter(sent_on__gte=first, sent_on__lte=day).count()
        self.totals.reminders += reminders
        self.totals.struck_off += struck
        m = self.month
        self.write(
            f"{day:%Y-%m} members={current} admitted={m.admitted} ended={ended} "
            f"payments={m.payments} returns={m.returns} donations={m.donations} "
            f"review={m.review} reminders={reminders} struck_off={struck}"
        )
        self.month = Month()


@functools.cache
def _beat() -> list[tuple[str, Any, Any, tuple, dict]]:
    """The beat schedule's entries with their tasks (loaded once)."""
    from django.apps import apps

    from config.celery import app

    # What the worker's autodiscovery imports (without its model checks): each app's tasks.
    for config in apps.get_app_configs():
        if importlib.util.find_spec(f"{config.name}.tasks") is not None:
            importlib.import_module(f"{config.name}.tasks")
    entries = []
    for name, entry in app.conf.beat_schedule.items():
        task = app.tasks.get(entry["task"])
        if task is None:
            raise Violation("beat_task_missing", f"{name}: no task {entry['task']}")
        args, kwargs = tuple(entry.get("args", ())), dict(entry.get("kwargs", {}))
        entries.append((name, entry["schedule"], task, args, kwargs))
    return entries


# The jobs whose work is checked right after them (statements, reminders, strike-offs); the
# others' effects are checked with the day's invariants at night.
CHECKED_AFTER = frozenset(
    {"finance.send_statements", "finance.send_reminders", "finance.strike_offs"}
)


def due_jobs(day: date) -> list[tuple[time, str, Any, tuple, dict]]:
    """The beat schedule's entries due on `day`, each once at the first time it fires that
    day, in the order of those times: (time, entry name, task, args, kwargs). A schedule
    that is no crontab (an interval) runs once a day, at midnight."""
    from celery.schedules import crontab

    jobs = []
    for name, schedule, task, args, kwargs in _beat():
        at = time(0, 0)
        if isinstance(schedule, crontab):
            weekday = day.isoweekday() % 7  # celery counts from Sunday = 0
            if (
                day.month not in schedule.month_of_year
                or day.day not in schedule.day_of_month
                or weekday not in schedule.day_of_week
            ):
                continue
            at = time(min(schedule.hour), min(schedule.minute))
        jobs.append((at, name, task, args, kwargs))
    return sorted(jobs, key=lambda job: (job[0], job[1]))
