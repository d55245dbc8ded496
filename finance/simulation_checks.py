"""The invariants of the year simulation (finance.simulation), each recomputed in Python from
the rows themselves (charges, payments, membership periods), never through the SQL or the
services that wrote them. The first one that fails raises a Violation naming the member, the
day, what was expected and what was found.
"""

from __future__ import annotations

import functools
import heapq
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, F, Q, Sum

from finance.arrears import months_before
from finance.models import (
    BankStatement,
    Charge,
    FeeRule,
    MonthlyStatement,
    Payment,
    Reminder,
    StrikeOff,
)
from finance.simulation_bank import BankFile
from members.models import (
    TRANSFER_OUT,
    ChangeRequest,
    Division,
    DivisionDay,
    DivisionTally,
    Member,
    MembershipPeriod,
    MemberVersion,
    RequestStatus,
)
from outbox.models import OutboundEmail

CENT = Decimal("0.01")
ZERO = Decimal(0)
DUES = "dues"


class Violation(Exception):
    def __init__(self, name: str, details: str) -> None:
        super().__init__(f"{name}: {details}")
        self.name = name
        self.details = details


@dataclass(frozen=True)
class State:
    balance: Decimal
    status: str
    since: date | None


# A member's charges: (due_on, overdue_on, amount, year, created_at); payments:
# (booked_on, amount, purpose).
ChargeRow = tuple[date, date, Decimal, int]
PaymentRow = tuple[date, Decimal, str]


def state_on(
    charges: Iterable[ChargeRow], payments: Iterable[PaymentRow], fee_class: str, day: date
) -> State:
    """Balance, payment status and arrears date on `day`, from the member's rows alone.

    Balance: dues paid up to the day less the charges due up to the day. In arrears: the
    charges past their grace period, cumulated in the order of that day, exceed the dues
    paid; since the first day at which they do. Owing without arrears (the grace period
    runs): due. Otherwise exempt for the exempt class, else paid up."""
    paid = sum(
        (amount for booked, amount, purpose in payments if booked <= day and purpose == DUES), ZERO
    )
    due = [row for row in charges if row[0] <= day]
    balance = paid - sum((row[2] for row in due), ZERO)
    overdue: dict[date, Decimal] = defaultdict(Decimal)
    for _due_on, overdue_on, amount, _year in due:
        if overdue_on <= day:
            overdue[overdue_on] += amount
    cumulated = ZERO
    for overdue_on in sorted(overdue):
        cumulated += overdue[overdue_on]
        if cumulated > paid:
            return State(balance.quantize(CENT), "in_arrears", overdue_on)
    balance = balance.quantize(CENT)
    if balance < 0:  # owed, but the grace period still runs
        return State(balance, "due", None)
    return State(balance, "exempt" if fee_class == "exempt" else "paid_up", None)


def _next_change(charges: Iterable[ChargeRow], payments: Iterable[PaymentRow], day: date) -> date:
    """The first day after `day` on which one of these rows starts to count."""
    later = [d for row in charges for d in row[:2] if d > day]
    later += [row[0] for row in payments if row[0] > day]
    return min(later, default=date.max)


@dataclass
class MemberRow:
    pk: int
    number: int
    first_name: str
    last_name: str
    email: str
    status: str
    fee_class: str
    dues_tier: Decimal | None
    joined_on: date
    left_on: date | None
    end_reason: str
    division_id: int
    balance: Decimal
    payment_status: str
    arrears_since: date | None

    FIELDS = (
        "pk",
        "membership_number",
        "first_name",
        "last_name",
        "email",
        "status",
        "fee_class",
        "dues_tier",
        "joined_on",
        "left_on",
        "end_reason",
        "division_id",
        "balance",
        "payment_status",
        "arrears_since",
    )

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(CENT)


def _date(value: Any) -> date | None:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _raw(sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows as the database driver gives them (Django's converters cost more than the query
    on a few thousand rows)."""
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.fetchall()


class ChangeLog:
    """Which rows of the register and the ledger were written since the last look, kept by
    the database itself: triggers (on the simulation's throwaway database only) log the id of
    every row inserted, updated or deleted, whatever code or SQL wrote it. The checker reads
    just those rows each time, and all rows once a month to prove the log missed nothing.
    Elsewhere (the checker run on a PostgreSQL test database) there is no log: every look
    reads everything."""

    TABLE = "simulation_changed_row"
    WATCHED = (
        (Member._meta.db_table, "member", ("INSERT", "UPDATE", "DELETE")),
        (Payment._meta.db_table, "payment", ("INSERT", "UPDATE", "DELETE")),
        # Charges are append-only: new ones are read by id; any change in place is logged.
        (Charge._meta.db_table, "charge_changed", ("UPDATE", "DELETE")),
    )

    def __init__(self) -> None:
        self.active = False

    def install(self) -> None:
        if connection.vendor != "sqlite":
            return
        self.active = True
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.TABLE} (kind TEXT NOT NULL, "
                "id INTEGER NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID"
            )
            for table, kind, events in self.WATCHED:
                for event in events:
                    rows = {"INSERT": ["NEW"], "UPDATE": ["OLD", "NEW"], "DELETE": ["OLD"]}[event]
                    body = " ".join(
                        f"INSERT OR IGNORE INTO {self.TABLE} VALUES ('{kind}', {row}.id);"  # noqa: S608 - our constants
                        for row in rows
                    )
                    cursor.execute(
                        f"CREATE TRIGGER IF NOT EXISTS simulation_{kind}_{event.lower()} "
                        f"AFTER {event} ON {table} BEGIN {body} END"
                    )

    def take(self, kind: str) -> list[int] | None:
        """The ids logged for `kind` since the last take (and forget them); None: no log is
        kept, any row may have changed."""
        if not self.active:
            return None
        ids = [pk for (pk,) in _raw(f"SELECT id FROM {self.TABLE} WHERE kind = %s", [kind])]  # noqa: S608
        if ids:
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {self.TABLE} WHERE kind = %s", [kind])  # noqa: S608
        return ids


class Members:
    """The members as they are now: all of them once, then the rows the log names."""

    # Dates and amounts as text: the driver's converters would cost more than the query.
    SQL = (
        "SELECT id, membership_number, first_name, last_name, email, status, fee_class, "  # noqa: S608
        "CAST(dues_tier AS TEXT), CAST(joined_on AS TEXT), CAST(left_on AS TEXT), end_reason, "
        "division_id, CAST(balance AS TEXT), payment_status, CAST(arrears_since AS TEXT) "
        f"FROM {Member._meta.db_table}"
    )

    def __init__(self, log: ChangeLog) -> None:
        self.log = log
        self.rows: dict[int, MemberRow] = {}
        self.changed: set[int] = set()  # members whose row changed since the last `take`
        self._loaded = False

    def read(self) -> dict[int, MemberRow]:
        """The rows as they are now (a new dict: the old one stays as it was)."""
        rows = dict(self.rows)
        ids = self.log.take("member")
        if ids is None or not self._loaded:
            found = _raw(self.SQL)
            for pk in set(rows) - {raw[0] for raw in found}:  # deleted
                del rows[pk]
                self.changed.add(pk)
            self._loaded = True
        else:
            found = [
                raw
                for start in range(0, len(ids), 500)
                for raw in _raw(
                    f"{self.SQL} WHERE id IN ({', '.join(['%s'] * len(ids[start : start + 500]))}) "
                    "ORDER BY id",
                    ids[start : start + 500],
                )
            ]
            for pk in set(ids) - {raw[0] for raw in found}:  # deleted
                rows.pop(pk, None)
                self.changed.add(pk)
        # A changed row keeps its place: the simulation's draws go through the rows in order.
        for raw in found:
            row = _member_row(raw)
            if rows.get(raw[0]) != row:
                rows[raw[0]] = row
                self.changed.add(raw[0])
        self.rows = rows
        return rows

    def verify(self, day: date) -> None:
        """All rows read afresh equal the rows kept from the log: the log missed nothing."""
        everything = {raw[0]: _member_row(raw) for raw in _raw(self.SQL)}
        if everything != self.rows:
            wrong = sorted(
                pk
                for pk in set(everything) | set(self.rows)
                if everything.get(pk) != self.rows.get(pk)
            )
            raise Violation(
                "checker_missed_change",
                f"day={day} member rows changed without the checker seeing it: {wrong[:6]}",
            )

    def take(self) -> set[int]:
        changed, self.changed = self.changed, set()
        return changed


def _member_row(raw: tuple[Any, ...]) -> MemberRow:
    pk, number, first, last, email, status, fee_class, tier, joined, left = raw[:10]
    end_reason, division_id, balance, payment_status, since = raw[10:]
    return MemberRow(
        pk,
        number,
        first,
        last,
        email,
        status,
        fee_class,
        _decimal(tier),
        _date(joined),
        _date(left),
        end_reason,
        division_id,
        _decimal(balance),
        payment_status,
        _date(since),
    )


class Ledger:
    """Every charge and every payment booked for a member, read from the rows. Charges are
    append-only: new rows are read by id, and one changed in place is itself a violation.
    Payments are read when the log names them (new, assigned, split or otherwise changed)."""

    PAYMENTS = (
        "SELECT id, member_id, CAST(booked_on AS TEXT), CAST(amount AS TEXT), purpose "  # noqa: S608
        f"FROM {Payment._meta.db_table}"
    )

    def __init__(self, log: ChangeLog) -> None:
        self.log = log
        self.charges: dict[int, list[ChargeRow]] = defaultdict(list)
        self.payments: dict[int, tuple[PaymentRow, ...]] = {}
        self._last_charge = 0
        self._charge_count = 0
        self._charge_sum = ZERO
        self.charged: set[int] = set()  # members with new charges since the last check
        self._payment_rows: dict[int, tuple[int, date, Decimal, str]] = {}
        self._by_member: dict[int, set[int]] = defaultdict(set)
        self._loaded = False

    def load(self, day: date) -> set[int]:
        """Read what changed; returns the members whose rows changed (those whose charges
        changed are also kept in `charged`)."""
        changed: set[int] = set()
        for pk, member_id, due_on, overdue_on, amount, year in (
            Charge.objects.filter(pk__gt=self._last_charge)
            .order_by("pk")
            .values_list("pk", "member_id", "due_on", "overdue_on", "amount", "year")
        ):
            self.charges[member_id].append((due_on, overdue_on, amount, year))
            self._last_charge = pk
            self._charge_count += 1
            self._charge_sum += amount
            changed.add(member_id)
            self.charged.add(member_id)
        in_place = self.log.take("charge_changed")
        if in_place is None:
            self._verify_charges(day)
        elif in_place:
            raise Violation(
                "charges_append_only",
                f"day={day} charges changed or deleted in place: ids {sorted(in_place)[:6]}",
            )
        ids = self.log.take("payment")
        if ids is None or not self._loaded:
            everything = {pk for (pk,) in _raw(f"SELECT id FROM {Payment._meta.db_table}")}  # noqa: S608
            ids = sorted(everything | set(self._payment_rows))
            self._loaded = True
        return changed | self._load_payments(ids)

    def verify(self, day: date) -> None:
        """All charges and payments read afresh agree with what was read from the log."""
        self._verify_charges(day)
        everything = {
            pk: (member_id, _date(booked), _decimal(amount), purpose)
            for pk, member_id, booked, amount, purpose in _raw(
                f"{self.PAYMENTS} WHERE member_id IS NOT NULL"
            )
        }
        if everything != self._payment_rows:
            wrong = sorted(
                pk
                for pk in set(everything) | set(self._payment_rows)
                if everything.get(pk) != self._payment_rows.get(pk)
            )
            raise Violation(
                "checker_missed_change",
                f"day={day} payments changed without the checker seeing it: {wrong[:6]}",
            )

    def _verify_charges(self, day: date) -> None:
        totals = Charge.objects.aggregate(n=Count("pk"), total=Sum("amount"))
        if (totals["n"], totals["total"] or ZERO) != (self._charge_count, self._charge_sum):
            raise Violation(
                "charges_append_only",
                f"day={day} charges changed in place: expected {self._charge_count} rows "
                f"summing {self._charge_sum}, found {totals['n']} summing {totals['total']}",
            )

    def _load_payments(self, ids: list[int]) -> set[int]:
        """Read these payments again; returns the members whose payments differ now."""
        changed: set[int] = set()
        before = {pk: self._payment_rows.pop(pk, None) for pk in ids}
        for pk, old in before.items():
            if old is not None:
                self._by_member[old[0]].discard(pk)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for pk, member_id, booked, amount, purpose in _raw(
                f"{self.PAYMENTS} WHERE member_id IS NOT NULL "
                f"AND id IN ({', '.join(['%s'] * len(chunk))})",
                chunk,
            ):
                row = (member_id, _date(booked), _decimal(amount), purpose)
                self._payment_rows[pk] = row
                self._by_member[member_id].add(pk)
                if before[pk] != row:
                    changed.add(member_id)
        for pk, old in before.items():
            if old is not None and self._payment_rows.get(pk) != old:
                changed.add(old[0])
        for member_id in changed:
            rows = sorted(
                (self._payment_rows[pk] for pk in self._by_member[member_id]),
                key=lambda row: row[1],
            )
            self.payments[member_id] = tuple((b, a, p) for _m, b, a, p in rows)
        return changed

    def net_by_year(self, member_id: int) -> dict[int, Decimal]:
        net: dict[int, Decimal] = defaultdict(Decimal)
        for _due, _overdue, amount, year in self.charges.get(member_id, ()):
            net[year] += amount
        return dict(net)

    def dues_paid(self, member_id: int) -> Decimal:
        return sum(
            (amount for _b, amount, purpose in self.payments.get(member_id, ()) if purpose == DUES),
            ZERO,
        )

    def state(self, member_id: int, fee_class: str, day: date) -> State:
        return state_on(
            self.charges.get(member_id, ()), self.payments.get(member_id, ()), fee_class, day
        )


def first_year_net(net: dict[int, Decimal]) -> Decimal | None:
    """The net charge of the first year with dues owed."""
    for year in sorted(net):
        if net[year] > 0:
            return net[year]
    return None


def months_in_year(joined_on: date, left_on: date | None, year: int) -> int:
    """Months of `year` with at least one day of membership; `left_on` is not a member day."""
    last_day = left_on - timedelta(days=1) if left_on else date(year, 12, 31)
    if joined_on.year > year or last_day.year < year or last_day < joined_on:
        return 0
    first = joined_on.month if joined_on.year == year else 1
    last = last_day.month if last_day.year == year else 12
    return last - first + 1


class Checker:
    """Runs the invariants after every simulated day and keeps what it needs between days."""

    def __init__(self) -> None:
        self.log = ChangeLog()
        self.ledger = Ledger(self.log)
        # Per member: the state, the day it was computed, the first day it may differ, the
        # fee class it was computed for.
        self.states: dict[int, tuple[State, date, date, str]] = {}
        self.statuses: dict[int, str] = {}
        self.members: dict[int, MemberRow] = {}
        self._members = Members(self.log)
        # (the first day a member's state may differ, the member): who to look at when
        self._expiring: list[tuple[date, int]] = []
        self._left_on: dict[int, date | None] = {}  # as last night
        self._everyone = True  # the first night looks at every member
        self._mails_expected: Counter[str] = Counter()  # reminder e-mails per address
        self._mails_sent: Counter[str] = Counter()
        self._last_mail = 0
        self.last_reminder = 0
        self.reminder_keys: set[tuple[int, date, int]] = set()
        self.rules = list(FeeRule.objects.all())
        self.struck_off: set[int] = set()
        self.files: dict[int, tuple[str, Decimal]] = {}  # statement -> (file, new entries' sum)
        self._last_version = 0
        self._changed: set[int] = set()

    # --- the day's checks ------------------------------------------------------------

    def start(self) -> None:
        """Take the register as the simulation found it (after setting up)."""
        self.log.install()
        self._last_version = (
            MemberVersion.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        )
        self.last_reminder = (
            Reminder.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        )
        self.refresh(date.min)
        self.statuses = {pk: row.status for pk, row in self.members.items()}
        self._left_on = {pk: row.left_on for pk, row in self.members.items()}
        self._members.take()
        self.struck_off = {pk for pk, row in self.members.items() if row.end_reason == "struck_off"}

    def refresh(self, day: date) -> None:
        """Read the ledger's new rows and the members as they are now."""
        self._changed |= self.ledger.load(day)
        self.members = self._members.read()

    def daily(self, day: date, touched_days: set[date]) -> None:
        """Every daily invariant, at night: for the members whose rows changed, or whose
        state may have changed with the day; for every member on the last day of a month,
        after proving that the rows read one by one equal all rows read afresh."""
        self.refresh(day)
        month_end = (day + timedelta(days=1)).day == 1
        if month_end:
            self._members.verify(day)
            self.ledger.verify(day)
        changed, self._changed = self._changed, set()
        rows_changed = {pk for pk in self._members.take() if pk in self.members}
        looked_at = changed | rows_changed
        if self._everyone or month_end:
            looked_at |= set(self.members)
            self._everyone = False
        self.check_states(day, changed, looked_at)
        self.check_statuses(day, looked_at)
        ended = set()
        for pk in rows_changed:
            left_on = self.members[pk].left_on
            if pk not in self._left_on or self._left_on[pk] != left_on:
                ended.add(pk)
                self._left_on[pk] = left_on
        charged, self.ledger.charged = self.ledger.charged, set()
        self.check_charges(day, charged | ended)
        self.check_reminders(day)
        self.check_struck_off(day)
        self.check_register(day, touched_days)

    def current(self, pk: int, day: date) -> State:
        """The member's state on `day`, from the rows read last (cached while no row
        starts to count)."""
        row = self.members[pk]
        cached = self.states.get(pk)
        if (
            cached is None
            or pk in self._changed
            or not cached[1] <= day < cached[2]
            or cached[3] != row.fee_class
        ):
            charges = self.ledger.charges.get(pk, ())
            payments = self.ledger.payments.get(pk, ())
            state = state_on(charges, payments, row.fee_class, day)
            cached = (state, day, _next_change(charges, payments, day), row.fee_class)
            self.states[pk] = cached
            if cached[2] != date.max:
                heapq.heappush(self._expiring, (cached[2], pk))
        return cached[0]

    def check_states(self, day: date, changed: set[int], looked_at: set[int] | None = None) -> None:
        """Stored balance and status against the ledger, for `looked_at` and everyone whose
        state may differ from the day it was last computed (a charge falls due or overdue, a
        payment counts): the others' rows and state are those already compared. None: all."""
        for pk in changed:
            self.states.pop(pk, None)
        members = set(self.members if looked_at is None else looked_at)
        while self._expiring and self._expiring[0][0] <= day:
            members.add(heapq.heappop(self._expiring)[1])
        for pk in members:
            row = self.members.get(pk)
            if row is None:
                continue
            state = self.current(pk, day)
            stored = State(row.balance, row.payment_status, row.arrears_since)
            if stored != state:
                raise Violation(
                    "payment_state",
                    f"member={row.number} day={day} expected balance={state.balance} "
                    f"status={state.status} arrears_since={state.since}, stored "
                    f"balance={stored.balance} status={stored.status} "
                    f"arrears_since={stored.since}",
                )

    def check_statuses(self, day: date, looked_at: set[int]) -> None:
        """Pending until the first dues are paid in full, then active at once (the exempt
        class at once); never back to pending; an ended membership stays ended. Only a
        member's row or ledger can change any of it: `looked_at` are those that changed."""
        activated = self._activations()
        for pk in looked_at:
            row = self.members[pk]
            before = self.statuses.get(pk)
            if before == "active" and row.status == "pending":
                raise Violation(
                    "active_back_to_pending",
                    f"member={row.number} day={day} expected active, found pending",
                )
            if before == "ended" and row.status != "ended":
                raise Violation(
                    "ended_reopened",
                    f"member={row.number} day={day} expected ended, found {row.status}",
                )
            if row.status == "pending":
                if row.fee_class == "exempt":
                    raise Violation(
                        "exempt_pending",
                        f"member={row.number} day={day} fee class exempt: expected active at "
                        "once, found pending",
                    )
                first = first_year_net(self.ledger.net_by_year(pk))
                paid = self.ledger.dues_paid(pk)
                if first is not None and paid >= first:
                    raise Violation(
                        "pending_after_paying",
                        f"member={row.number} day={day} paid {paid} in dues, first year's "
                        f"dues {first}: expected active, found pending",
                    )
            if row.status == "active" and before in (None, "pending"):
                self._check_activation(day, row, activated.get(pk))
            self.statuses[pk] = row.status

    def _activations(self) -> dict[int, tuple[datetime, dict[str, Any]]]:
        """Versions written since the last check that made a member active."""
        found: dict[int, tuple[datetime, dict[str, Any]]] = {}
        for pk, member_id, recorded_at, values in (
            MemberVersion.objects.filter(pk__gt=self._last_version)
            .order_by("pk")
            .values_list("pk", "member_id", "recorded_at", "values")
        ):
            self._last_version = pk
            if values.get("status") == "active":  # the first such version since the last check
                found.setdefault(member_id, (recorded_at, values))
        return found

    def _check_activation(
        self, day: date, row: MemberRow, version: tuple[datetime, dict[str, Any]] | None
    ) -> None:
        """Active only after the first dues were paid in full (what was booked at the moment
        of activation), or at once for the exempt class."""
        if version is None:
            raise Violation(
                "active_without_record",
                f"member={row.number} day={day} became active without a version saying so",
            )
        at, values = version
        if values.get("fee_class") == "exempt":
            return
        net: dict[int, Decimal] = defaultdict(Decimal)
        for year, amount in Charge.objects.filter(member_id=row.pk, created_at__lte=at).values_list(
            "year", "amount"
        ):
            net[year] += amount
        paid = (
            Payment.objects.filter(member_id=row.pk, purpose=DUES, created_at__lte=at).aggregate(
                total=Sum("amount")
            )["total"]
            or ZERO
        )
        first = first_year_net(net)
        if first is None or paid < first:
            raise Violation(
                "active_without_paying",
                f"member={row.number} day={day} active at {at:%Y-%m-%d %H:%M:%S} with {paid} "
                f"paid in dues, first year's dues {first}: expected pending",
            )

    def check_charges(self, day: date, member_ids: Iterable[int]) -> None:
        """Nobody is charged for months without membership: per year at most the dearest
        applicable yearly amount for each month of membership, nothing after the exit."""
        ids = [pk for pk in member_ids if pk in self.members]
        if not ids:
            return
        tiers: dict[int, set[Decimal]] = defaultdict(set)
        for member_id, values in MemberVersion.objects.filter(member_id__in=ids).values_list(
            "member_id", "values"
        ):
            if values.get("dues_tier"):
                tiers[member_id].add(Decimal(values["dues_tier"]))
        for pk in ids:
            row = self.members[pk]
            if row.dues_tier:
                tiers[pk].add(row.dues_tier)
            for year, net in sorted(self.ledger.net_by_year(pk).items()):
                months = months_in_year(row.joined_on, row.left_on, year)
                dearest = max([*self._amounts(year), *tiers[pk]], default=ZERO)
                bound = (dearest * months / 12).quantize(CENT, rounding=ROUND_CEILING)
                if net < 0 or net > bound:
                    raise Violation(
                        "charged_beyond_membership",
                        f"member={row.number} day={day} year={year}: {months} months of "
                        f"membership (joined {row.joined_on}, left {row.left_on}), expected "
                        f"net charges between 0 and {bound}, found {net}",
                    )

    @functools.cache  # noqa: B019 - one checker per run, a dozen years
    def _amounts(self, year: int) -> list[Decimal]:
        first, last = date(year, 1, 1), date(year, 12, 31)
        amounts = []
        for rule in self.rules:
            if rule.valid_from <= last and (rule.valid_until is None or rule.valid_until >= first):
                amounts.append(rule.yearly_amount)
                amounts += [Decimal(t) for t in rule.tiers.replace(" ", "").split(",") if t]
        return amounts

    # --- reminders -------------------------------------------------------------------

    def check_reminders(self, day: date) -> None:
        """One reminder per member, spell and level, the second after the first, for the
        arrears the member is in when it is sent; one e-mail per e-mail reminder. Called
        right after the job that sends them, and at night."""
        fresh = list(
            Reminder.objects.filter(pk__gt=self.last_reminder)
            .order_by("pk")
            .values_list(
                "pk", "member_id", "arrears_since", "level", "channel", "sent_on", "member__email"
            )
        )
        if not fresh:
            return
        emailed = False
        for pk, member_id, since, level, channel, sent_on, email in fresh:
            self.last_reminder = pk
            row = self.members[member_id]
            key = (member_id, since, level)
            if key in self.reminder_keys:
                raise Violation(
                    "reminder_twice",
                    f"member={row.number} day={day} reminder {level} for arrears since "
                    f"{since} sent a second time",
                )
            self.reminder_keys.add(key)
            if level == 2 and (member_id, since, 1) not in self.reminder_keys:
                raise Violation(
                    "reminder_order",
                    f"member={row.number} day={day} reminder 2 without reminder 1 for "
                    f"arrears since {since}",
                )
            state = self.current(member_id, sent_on)
            if sent_on != day or state.since != since or row.status == "ended":
                raise Violation(
                    "reminder_not_in_arrears",
                    f"member={row.number} day={day} reminder {level} sent {sent_on} for "
                    f"arrears since {since}: expected arrears since {state.since} "
                    f"(status {row.status})",
                )
            if channel == Reminder.Channel.EMAIL:
                emailed = True
                self._mails_expected[email] += 1
        if emailed:
            self._check_reminder_emails(day)

    def _check_reminder_emails(self, day: date) -> None:
        """Every e-mail reminder so far, one e-mail to the member's address (the e-mails
        read since the last look)."""
        for pk, to in (
            OutboundEmail.objects.filter(template="dues_reminder", pk__gt=self._last_mail)
            .order_by("pk")
            .values_list("pk", "to")
        ):
            self._mails_sent.update(to)
            self._last_mail = pk
        expected, sent = self._mails_expected, self._mails_sent
        if expected != sent:
            wrong = sorted(set(expected.items()) ^ set(sent.items()))[:4]
            numbers = {row.email: row.number for row in self.members.values() if row.email}
            raise Violation(
                "reminder_email",
                f"day={day} e-mail reminders and e-mails differ (address, count; member): "
                + ", ".join(f"{a} x{n} ({numbers.get(a)})" for a, n in wrong),
            )

    def check_struck_off(self, day: date) -> None:
        """Right after the job: every membership ended by striking off had its decision, its
        objection period passed, more than the configured months of arrears and two
        reminders far enough apart; and the member is still in those arrears."""
        for row in self.members.values():
            if row.end_reason == "struck_off" and row.pk not in self.struck_off:
                self.struck_off.add(row.pk)
                self._check_strike_off(day, row)

    def _check_strike_off(self, day: date, row: MemberRow) -> None:
        from django.conf import settings

        strike = (
            StrikeOff.objects.filter(member_id=row.pk, status=StrikeOff.Status.STRUCK_OFF)
            .order_by("-pk")
            .first()
        )
        problem = ""
        if strike is None or strike.decided_on is None or strike.objection_until is None:
            problem = "no decided strike-off"
        else:
            sent = dict(
                Reminder.objects.filter(
                    member_id=row.pk, arrears_since=strike.arrears_since
                ).values_list("level", "sent_on")
            )
            interval = timedelta(days=settings.MUSTERROLLE_REMINDER_INTERVAL_DAYS)
            months = settings.MUSTERROLLE_STRIKE_OFF_MONTHS
            limit = months_before(strike.proposed_on, months)
            if row.left_on is None or row.left_on <= strike.objection_until:
                problem = f"ended {row.left_on}, objection possible until {strike.objection_until}"
            elif set(sent) != {1, 2} or sent[2] - sent[1] < interval:
                problem = f"reminders for the spell: {sent}"
            elif not strike.arrears_since < limit:
                problem = f"in arrears since {strike.arrears_since}, proposed {strike.proposed_on}"
            else:
                state = self.current(row.pk, row.left_on)
                if state.since != strike.arrears_since:
                    problem = (
                        f"arrears since {state.since}, the strike-off is about "
                        f"{strike.arrears_since}"
                    )
        if problem:
            raise Violation(
                "strike_off_rule", f"member={row.number} day={day} struck off: {problem}"
            )

    # --- the register's figures ------------------------------------------------------

    def check_register(self, day: date, touched_days: set[date]) -> None:
        """Counts per division and status, members covered on the day, and the day rows of
        every day an event of today fell on, against the membership periods."""
        divisions = dict(Division.objects.values_list("pk", "path"))
        expected_tally: Counter[tuple[int, str]] = Counter(
            (row.division_id, row.status) for row in self.members.values()
        )
        stored_tally = {
            (d, s): n
            for d, s, n in DivisionTally.objects.values_list("division_id", "status", "count")
            if n
        }
        codes = dict(Division.objects.values_list("pk", "code"))
        if dict(expected_tally) != stored_tally:
            wrong = [
                f"{codes[d]} {status}: expected {expected_tally.get((d, status), 0)}, "
                f"stored {stored_tally.get((d, status), 0)}"
                for d, status in sorted(set(expected_tally) | set(stored_tally))
                if expected_tally.get((d, status), 0) != stored_tally.get((d, status), 0)
            ]
            raise Violation(
                "register_tally",
                f"day={day} members per division and status: " + "; ".join(wrong[:6]),
            )
        # The stored counts of current members against the as-of query: the periods that
        # cover the day, per division and everything below it.
        covering = dict(
            MembershipPeriod.objects.filter(started_on__lte=day)
            .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=day))
            .values("division_id")
            .annotate(n=Count("pk"))
            .values_list("division_id", "n")
        )
        current: Counter[int] = Counter()
        for (division_id, status), n in stored_tally.items():
            if status != "ended":
                current[division_id] += n
        for pk, path in divisions.items():
            below = [d for d, p in divisions.items() if p.startswith(path)]
            as_of = sum(covering.get(d, 0) for d in below)
            counted = sum(current[d] for d in below)
            if as_of != counted:
                raise Violation(
                    "register_as_of",
                    f"day={day} division={codes[pk]}: {as_of} membership periods cover the "
                    f"day, the stored counts say {counted} current members",
                )
        self._check_days(day, touched_days | {day}, divisions)

    def _check_days(self, day: date, days: set[date], divisions: dict[int, str]) -> None:
        by_path = {path: pk for pk, path in divisions.items()}
        steplen = Division.steplen
        expected: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])

        def count(division_id: int, on: date, column: int) -> None:
            path = divisions[division_id]
            for end in range(steplen, len(path) + 1, steplen):
                expected[(by_path[path[:end]], on)][column] += 1

        periods = MembershipPeriod.objects.filter(
            Q(started_on__in=days) | Q(ended_on__in=days)
        ).values_list("division_id", "started_on", "start_kind", "ended_on", "end_kind")
        for division_id, started, start_kind, ended, end_kind in periods:
            if started in days:
                count(division_id, started, 0)
                if start_kind == "entry":
                    count(division_id, started, 2)
            if ended in days:
                count(division_id, ended, 1)
                if end_kind != TRANSFER_OUT:
                    count(division_id, ended, 3)
        stored = {
            (d, on): [a, b, c, e]
            for d, on, a, b, c, e in DivisionDay.objects.filter(day__in=days).values_list(
                "division_id", "day", "starts", "ends", "entries", "exits"
            )
            if a or b or c or e
        }
        if dict(expected) != stored:
            keys = sorted(set(expected) | set(stored), key=lambda k: (k[1], k[0]))
            codes = dict(Division.objects.values_list("pk", "code"))
            wrong = [
                f"{codes[k[0]]} on {k[1]}: expected {expected.get(k)}, stored {stored.get(k)}"
                for k in keys
                if expected.get(k) != stored.get(k)
            ]
            raise Violation(
                "register_day_figures",
                f"day={day} [starts, ends, entries, exits] per division and day: "
                + "; ".join(wrong[:4]),
            )

    def check_dashboard(self, day: date, state: Division, months: list[date]) -> None:
        """The dashboard's month series (kept figures) against the periods at each month end."""
        from members import stats

        total, children = stats.division_figures(state, day)
        for figures in [total, *children]:
            if figures.series is None:
                continue
            series = dict(zip(figures.series.months, figures.series.members, strict=True))
            for month in months:
                if month not in series:
                    continue
                last = min(_month_end(month), day)
                as_of = _covering(figures.division, last)
                if series[month] != as_of:
                    raise Violation(
                        "dashboard_series",
                        f"day={day} division={figures.division.code} month={month:%Y-%m}: "
                        f"expected {as_of} members at {last}, the dashboard shows {series[month]}",
                    )

    # --- bank files ------------------------------------------------------------------

    def check_bank_file(
        self, day: date, bank_file: BankFile, statement: BankStatement, repeated: set[str]
    ) -> None:
        """Every entry became exactly one payment (or was booked before), of the kind it is,
        for the member it is for; the payments and the summary add up to the file."""
        details = [
            (entry, detail, ref)
            for entry in bank_file.entries
            for detail, ref in zip(entry.details, entry.bank_references(), strict=True)
        ]
        refs = [ref for _e, _d, ref in details]
        found: dict[str, list[Payment]] = defaultdict(list)
        for payment in Payment.objects.filter(bank_reference__in=refs).select_related("reverses"):
            found[payment.bank_reference].append(payment)
        where = f"day={day} file={bank_file.statement_id}"
        earlier = ZERO
        for entry, detail, ref in details:
            rows = found.get(ref, [])
            if len(rows) != 1:
                raise Violation(
                    "bank_entry_once",
                    f"{where} entry {ref} ({detail.amount} €, {detail.kind}): expected one "
                    f"payment, found {len(rows)}",
                )
            payment = rows[0]
            signed = detail.amount if entry.credit else -detail.amount
            if ref in repeated:
                earlier += signed
                if payment.statement_id == statement.pk:
                    raise Violation(
                        "bank_booked_twice",
                        f"{where} entry {ref} came in an earlier file and was booked again",
                    )
                continue
            if payment.statement_id != statement.pk or payment.amount != signed:
                raise Violation(
                    "bank_entry_amount",
                    f"{where} entry {ref}: expected {signed} € in this file, found "
                    f"{payment.amount} € in statement {payment.statement_id}",
                )
            self._check_kind(where, ref, detail, payment)
        created = Payment.objects.filter(statement=statement, split_from__isnull=True).aggregate(
            total=Sum("amount"), n=Count("pk")
        )
        if (created["total"] or ZERO) + earlier != bank_file.total:
            raise Violation(
                "bank_file_sum",
                f"{where} file sums to {bank_file.total} €, payments made from it "
                f"{created['total']} € plus {earlier} € booked before",
            )
        self._check_summary(where, statement, bank_file, len(details))
        self.files[statement.pk] = (bank_file.statement_id, bank_file.total - earlier)

    def check_files(self, day: date) -> None:
        """Later on (splits accepted, review items assigned): each file's payments still add
        up to it, and split parts to their payment."""
        made = dict(
            Payment.objects.filter(statement__in=list(self.files), split_from__isnull=True)
            .values("statement")
            .annotate(total=Sum("amount"))
            .values_list("statement", "total")
        )
        for pk, (name, total) in self.files.items():
            if (made.get(pk) or ZERO) != total:
                raise Violation(
                    "bank_file_sum",
                    f"day={day} file={name}: its new entries sum to {total} €, its payments "
                    f"now to {made.get(pk)} €",
                )
        self.check_splits(day)

    def _check_kind(self, where: str, ref: str, detail: Any, payment: Payment) -> None:
        number = self._number(detail.member)
        expected_member = detail.member if detail.expect_match else "any"
        problem = ""
        # Without a number in the reference, the account decides: anyone who paid from it.
        allowed = {detail.member} | (set() if detail.expect_match else set(detail.account_of))
        if detail.kind == "dues":
            if payment.purpose != DUES:
                problem = f"purpose {payment.purpose}, expected dues"
            elif payment.member_id is not None and payment.member_id not in allowed:
                problem = f"booked for member {self._number(payment.member_id)}, expected {number}"
            elif expected_member != "any" and payment.member_id != detail.member:
                problem = f"left unmatched, expected member {number}"
        elif detail.kind == "donation":
            if payment.purpose != "donation":
                problem = f"purpose {payment.purpose}, expected donation"
            elif (payment.member_id is not None and payment.member_id not in allowed) or (
                expected_member != "any" and payment.member_id != detail.member
            ):
                problem = f"donation of member {self._number(payment.member_id)}, expected {number}"
        elif detail.kind == "return":
            original = (
                Payment.objects.filter(bank_reference=detail.original).first()
                if detail.original
                else None
            )
            if original is None:
                if payment.member_id is not None:
                    problem = "a return of an unknown payment was booked for a member"
            elif payment.reverses_id != original.pk or payment.member_id != original.member_id:
                problem = (
                    f"reverses {payment.reverses_id} for member "
                    f"{self._number(payment.member_id)}, expected to reverse {original.pk} "
                    f"({detail.original}) for member {self._number(original.member_id)}"
                )
            elif payment.purpose != original.purpose:
                problem = f"purpose {payment.purpose}, the original's is {original.purpose}"
        elif detail.kind == "split":
            named = {int(part["member"]) for part in payment.proposal or []}
            if payment.member_id is not None or payment.match != Payment.Match.SPLIT:
                problem = f"match {payment.match} for member {self._number(payment.member_id)}, expected a split"
            elif named != set(detail.members):
                problem = f"split proposed for {sorted(named)}, expected {sorted(detail.members)}"
            elif sum(Decimal(part["amount"]) for part in payment.proposal) != payment.amount:
                problem = f"proposed parts {payment.proposal} do not add up to {payment.amount}"
        elif detail.kind == "other" and (payment.purpose != "other" or payment.member_id):
            problem = f"purpose {payment.purpose} member {payment.member_id}, expected other money"
        if problem:
            raise Violation(
                "bank_entry_kind",
                f"{where} entry {ref} ({detail.kind}, reference “{detail.reference}”, "
                f"{detail.name}, {detail.iban or 'no account'}): {problem}",
            )

    def _number(self, pk: int | None) -> int | None:
        row = self.members.get(pk) if pk is not None else None
        if row is None and pk is not None:
            return Member.objects.filter(pk=pk).values_list("membership_number", flat=True).first()
        return row.number if row else None

    def _check_summary(
        self, where: str, statement: BankStatement, bank_file: BankFile, entries: int
    ) -> None:
        summary = statement.summary or {}
        outcomes = {k: v for k, v in summary.items() if isinstance(v, dict)}
        count = sum(int(v.get("count", 0)) for v in outcomes.values())
        total = sum((Decimal(str(v.get("sum", "0"))) for v in outcomes.values()), ZERO)
        problems = []
        if not outcomes:
            problems.append("no summary")
        if count != entries:
            problems.append(f"counts add up to {count}, the file has {entries} entries")
        if total != bank_file.total:
            problems.append(f"sums add up to {total} €, the file to {bank_file.total} €")
        if "total" in summary and Decimal(str(summary["total"])) != bank_file.total:
            problems.append(f"total says {summary['total']} €, the file {bank_file.total} €")
        if "entries" in summary and int(summary["entries"]) != entries:
            problems.append(f"entries says {summary['entries']}, the file has {entries}")
        # Each outcome against the payments made from the file.
        made: dict[str, list[Decimal]] = defaultdict(list)
        for member_id, amount, purpose in Payment.objects.filter(
            statement=statement, split_from__isnull=True
        ).values_list("member_id", "amount", "purpose"):
            if purpose in ("donation", "other"):
                outcome = purpose
            elif member_id is None:
                outcome = "review"
            else:
                outcome = "return" if amount < 0 else "dues"
            made[outcome].append(amount)
        for outcome, amounts in made.items():
            stated = outcomes.get(outcome, {})
            if (int(stated.get("count", 0)), Decimal(str(stated.get("sum", "0")))) != (
                len(amounts),
                sum(amounts, ZERO),
            ):
                problems.append(
                    f"{outcome}: summary {stated}, payments {len(amounts)} summing {sum(amounts, ZERO)}"
                )
        if problems:
            raise Violation("bank_summary", f"{where} " + "; ".join(problems))

    def check_splits(self, day: date) -> None:
        """Split parts hang off their original and add up to it; the original stays no one's."""
        parts: dict[int, list[Payment]] = defaultdict(list)
        for part in Payment.objects.filter(split_from__isnull=False):
            parts[part.split_from_id].append(part)
        originals = Payment.objects.in_bulk(list(parts))
        for pk, rows in parts.items():
            original = originals[pk]
            total = sum((p.amount for p in rows), ZERO)
            if total != original.amount or original.member_id is not None:
                raise Violation(
                    "split_parts",
                    f"day={day} payment {original.bank_reference}: parts sum to {total} €, "
                    f"the payment is {original.amount} € (member {original.member_id})",
                )

    def check_shares(self, day: date) -> None:
        """Every dues payment booked to a member is split once into federal, state and
        district parts that add up to it; over the month the parts add up to the dues
        received, to the cent (finance.shares)."""
        from finance import shares
        from finance.models import Share

        unsplit = list(
            Payment.objects.filter(shares.counted(), share__isnull=True, booked_on__lte=day)
            .order_by("pk")
            .values_list("bank_reference", "amount")[:5]
        )
        if unsplit:
            raise Violation("dues_not_split", f"day={day} dues booked but not split: {unsplit}")
        wrong = list(
            Share.objects.exclude(amount=F("payment__amount")).values_list(
                "payment__bank_reference", "amount", "payment__amount"
            )[:5]
        )
        if wrong:
            raise Violation("share_amount", f"day={day} shares of another amount: {wrong}")
        first = day.replace(day=1)
        month = shares.sums(first, day)
        received = shares.dues_received(first, day)
        if month.received != received or not month.adds_up:
            raise Violation(
                "shares_do_not_add_up",
                f"day={day} month {first:%Y-%m}: dues received {received} €, split "
                f"{month.received} € = federal {month.federal} + state {month.state} + "
                f"district {month.district}",
            )

    # --- monthly statements ----------------------------------------------------------

    def check_statement(self, day: date, statement: MonthlyStatement) -> None:
        """The statement's figures against the periods, the ledger and the register."""
        division = statement.division
        period = statement.period
        end = _month_end(period)
        subtree = set(
            Division.objects.filter(path__startswith=division.path).values_list("pk", flat=True)
        )
        members = self.members  # read right after the job that made the statement
        figures = statement.figures
        problems: list[str] = []

        def compare(name: str, expected: Any, found: Any) -> None:
            if expected != found:
                problems.append(f"{name}: expected {expected}, found {found}")

        compare("members_at_start", _covering(division, period), figures.get("members_at_start"))
        compare("members_at_end", _covering(division, end), figures.get("members_at_end"))
        entries, exits = [], []
        for member_id, kind, started, ended, end_kind in MembershipPeriod.objects.filter(
            division__in=subtree
        ).values_list("member_id", "start_kind", "started_on", "ended_on", "end_kind"):
            row = members[member_id]
            if kind == "entry" and period <= started <= end:
                entries.append((row.number, row.name))
            if ended and period <= ended <= end and end_kind != TRANSFER_OUT:
                exits.append((row.number, row.name))
        listed = sorted((p["number"], p["name"]) for p in figures.get("entries", []))
        compare("entries", sorted(entries), listed)
        listed = sorted((p["number"], p["name"]) for p in figures.get("exits", []))
        compare("exits", sorted(exits), listed)
        in_state = {pk for pk, row in members.items() if row.division_id in subtree}
        paid = [
            amount
            for member_id, amount in Payment.objects.filter(
                member_id__in=in_state, booked_on__gte=period, booked_on__lte=end
            ).values_list("member_id", "amount")
        ]
        compare("payments_count", len(paid), figures.get("payments_count"))
        compare(
            "payments_total",
            sum(paid, ZERO).quantize(CENT),
            Decimal(str(figures.get("payments_total", "0"))),
        )
        arrears = []
        for pk in in_state:
            row = members[pk]
            if row.status == "ended":
                continue
            state = self.ledger.state(pk, row.fee_class, end)
            if state.status == "in_arrears":
                arrears.append(
                    (row.number, state.since.isoformat() if state.since else None, -state.balance)
                )
        listed_arrears = sorted(
            (a["number"], a["since"], Decimal(str(a["amount"]))) for a in figures.get("arrears", [])
        )
        compare("arrears", sorted(arrears), listed_arrears)
        compare(
            "arrears_total",
            sum((a[2] for a in arrears), ZERO),
            Decimal(str(figures.get("arrears_total", "0"))),
        )
        newly = sorted(a for a in arrears if a[1] and period.isoformat() <= a[1] <= end.isoformat())
        listed_newly = sorted(
            (a["number"], a["since"], Decimal(str(a["amount"])))
            for a in figures.get("newly_in_arrears", [])
        )
        compare("newly_in_arrears", newly, listed_newly)
        applied = ChangeRequest.objects.filter(
            division__in=subtree,
            status=RequestStatus.APPLIED,
            decided_at__date__gte=period,
            decided_at__date__lte=end,
        ).count()
        compare("changes_applied", applied, figures.get("changes_applied"))
        if problems:
            raise Violation(
                "monthly_statement",
                f"day={day} state={division.code} month={period:%Y-%m}: "
                + "; ".join(p[:400] for p in problems),
            )


def _month_end(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _covering(division: Division, day: date) -> int:
    """Members of the subtree on `day`: the membership periods that cover it."""
    return (
        MembershipPeriod.objects.filter(
            division__path__startswith=division.path, started_on__lte=day
        )
        .filter(Q(ended_on__isnull=True) | Q(ended_on__gt=day))
        .count()
    )
