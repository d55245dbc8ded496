"""Dues: which member owes how much for a year, and the run that charges it.

The run is idempotent: it compares what each member should owe with what is charged and
only writes the difference, as a reversal of the old dues row and a new one. Two runs
racing each other collide on the (member, year, revision) constraint instead of charging twice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max, Q, Sum

from finance.models import Charge, FeeRule
from members.models import Division, FeeClass, Member, MemberVersion, User

CENT = Decimal("0.01")
BATCH = 2000


@dataclass
class DuesRun:
    year: int
    charged: int = 0  # members charged for the first time
    corrected: int = 0  # members whose dues changed (reversal + new row)
    unchanged: int = 0


def months_of_membership(*, joined_on: date, left_on: date | None, year: int) -> list[int]:
    """The months of `year` in which the person was a member on at least one day."""
    if joined_on.year > year:
        return []
    first = joined_on.month if joined_on.year == year else 1
    last = 12
    if left_on is not None:
        last_day = left_on - timedelta(days=1)  # an exit takes effect on its day
        if last_day.year < year or last_day < joined_on:
            return []
        if last_day.year == year:
            last = last_day.month
    return list(range(first, last + 1))


def fee_class_on(
    day: date, history: Sequence[tuple[date, str, date | None]], current: tuple[str, date | None]
) -> str:
    """The class in force on `day`: the last recorded one before it, the reduction expiring."""
    fee_class, reduced_until = current
    for recorded_on, recorded_class, recorded_until in history:  # oldest first
        if recorded_on <= day:
            fee_class, reduced_until = recorded_class, recorded_until
    if fee_class == FeeClass.REDUCED and reduced_until is not None and day > reduced_until:
        return FeeClass.REGULAR
    return fee_class


def rule_on(rules: Sequence[FeeRule], fee_class: str, day: date) -> FeeRule | None:
    for rule in rules:
        if (
            rule.fee_class == fee_class
            and rule.valid_from <= day
            and (rule.valid_until is None or day <= rule.valid_until)
        ):
            return rule
    return None


def dues_for(
    *,
    year: int,
    joined_on: date,
    left_on: date | None,
    fee_class: str,
    reduced_until: date | None,
    rules: Sequence[FeeRule],
    history: Sequence[tuple[date, str, date | None]] = (),
    tier: Decimal | None = None,
) -> tuple[Decimal, date | None]:
    """What a member owes for `year` and when it is due: a twelfth of the yearly amount of
    the class and rule in force on the first of each month of membership."""
    months = months_of_membership(joined_on=joined_on, left_on=left_on, year=year)
    total = Decimal(0)
    due_rule = None
    for month in months:
        first = date(year, month, 1)
        month_class = fee_class_on(first, history, (fee_class, reduced_until))
        rule = rule_on(rules, month_class, first)
        if rule is None:
            continue
        # A regular member pays the tier they chose by income; otherwise the rule's amount.
        yearly = (
            tier if tier is not None and month_class == FeeClass.REGULAR else rule.yearly_amount
        )
        if joined_on.year == year and not rule.prorate_entry_year and month == months[0]:
            total += yearly / 12 * (month - 1)  # the months before entry are owed too
        total += yearly / 12
        due_rule = due_rule or rule
    if due_rule is None:
        return Decimal(0), None
    due_on = max(date(year, due_rule.due_month, due_rule.due_day), joined_on)
    return total.quantize(CENT, rounding=ROUND_HALF_UP), due_on


def _histories(member_ids: Iterable[int]) -> dict[int, list[tuple[date, str, date | None]]]:
    """Fee class changes per member from the register's versions, oldest first."""
    histories: dict[int, list[tuple[date, str, date | None]]] = defaultdict(list)
    versions = (
        MemberVersion.objects.filter(member_id__in=list(member_ids))
        .filter(
            Q(version=1) | Q(changes__has_key="fee_class") | Q(changes__has_key="reduced_until")
        )
        .order_by("member_id", "version")
        .values_list("member_id", "recorded_at", "values")
    )
    for member_id, recorded_at, values in versions:
        until = values.get("reduced_until")
        recorded_on = recorded_at.date() if isinstance(recorded_at, datetime) else recorded_at
        histories[member_id].append(
            (
                recorded_on,
                values.get("fee_class", FeeClass.REGULAR),
                date.fromisoformat(until) if until else None,
            )
        )
    for history in histories.values():
        if history:  # the first version stands for the time before it was recorded, too
            history[0] = (date.min, history[0][1], history[0][2])
    return histories


def run_dues(*, year: int, by: User | None = None, division: Division | None = None) -> DuesRun:
    """Charge every member's dues for `year`, in batches; run it as often as you like."""
    rules = list(FeeRule.objects.order_by("-valid_from"))
    # Members of the year, and anyone already charged for it (a backdated exit must be
    # able to reverse that charge).
    members = Member.objects.filter(
        Q(joined_on__lte=date(year, 12, 31)) & ~Q(left_on__lte=date(year, 1, 1))
        | Q(charges__year=year)
    ).distinct()
    if division is not None:
        members = members.in_subtree(division)
    result = DuesRun(year=year)
    ids = list(members.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        for attempt in range(2):
            try:
                _run_batch(chunk, year=year, rules=rules, by=by, result=result)
                break
            except IntegrityError:
                if attempt:  # another run keeps writing the same rows: let it finish
                    raise
    return result


@transaction.atomic
def _run_batch(
    ids: list[int], *, year: int, rules: list[FeeRule], by: User | None, result: DuesRun
) -> None:
    members = Member.objects.filter(pk__in=ids).values_list(
        "pk", "joined_on", "left_on", "fee_class", "reduced_until", "dues_tier"
    )
    histories = _histories(ids)
    charged = dict(
        Charge.objects.filter(member_id__in=ids, year=year)
        .values("member_id")
        .annotate(net=Sum("amount"))
        .values_list("member_id", "net")
    )
    revisions = dict(
        Charge.objects.filter(member_id__in=ids, year=year, kind=Charge.Kind.DUES)
        .values("member_id")
        .annotate(last=Max("revision"))
        .values_list("member_id", "last")
    )
    open_dues: dict[int, list[Charge]] = defaultdict(list)
    for charge in Charge.objects.filter(
        member_id__in=ids, year=year, kind=Charge.Kind.DUES, reversed_by__isnull=True
    ):
        open_dues[charge.member_id].append(charge)
    new_rows: list[Charge] = []
    for pk, joined_on, left_on, fee_class, reduced_until, tier in members:
        expected, due_on = dues_for(
            year=year,
            joined_on=joined_on,
            left_on=left_on,
            fee_class=fee_class,
            reduced_until=reduced_until,
            rules=rules,
            history=histories.get(pk, ()),
            tier=tier,
        )
        current = charged.get(pk) or Decimal(0)
        if expected == current:
            result.unchanged += 1
            continue
        for old in open_dues.get(pk, []):
            new_rows.append(
                Charge(
                    member_id=pk,
                    year=year,
                    kind=Charge.Kind.REVERSAL,
                    amount=-old.amount,
                    due_on=old.due_on,
                    reverses=old,
                    memo="Korrektur",
                    created_by=by,
                )
            )
        if expected:
            new_rows.append(
                Charge(
                    member_id=pk,
                    year=year,
                    kind=Charge.Kind.DUES,
                    revision=revisions.get(pk, 0) + 1,
                    amount=expected,
                    due_on=due_on,
                    memo=f"Beitrag {year}",
                    created_by=by,
                )
            )
        if pk in revisions:
            result.corrected += 1
        else:
            result.charged += 1
    Charge.objects.bulk_create(new_rows, batch_size=BATCH)
    from finance import payments  # the members' stored balance follows in the same transaction

    payments.refresh({row.member_id for row in new_rows})
