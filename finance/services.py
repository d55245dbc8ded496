"""Dues: which member owes how much for a year, and the run that charges it.

The run is idempotent: it compares what each member should owe with what is charged and
only writes the difference, as a reversal of the old dues row and a new one. Two runs
racing each other collide on the (member, year, revision) constraint instead of charging twice.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from finance.models import Charge, FeeRule, Mandate, OpeningBalance
from members.models import Division, FeeClass, Member, MemberVersion, User

CENT = Decimal("0.01")
logger = logging.getLogger(__name__)
BATCH = 2000


class Dues(NamedTuple):
    amount: Decimal
    due_on: date | None
    overdue_on: date | None


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


class FeeState(NamedTuple):
    """A member's fee class, reduction and tier as recorded from a day on."""

    since: date
    fee_class: str
    reduced_until: date | None
    tier: Decimal | None


def fee_state_on(
    day: date, history: Sequence[FeeState], current: FeeState
) -> tuple[str, Decimal | None]:
    """The class and tier in force on `day`: the last recorded before it, a reduction
    expiring after its end date."""
    state = current
    for recorded in history:  # oldest first
        if recorded.since <= day:
            state = recorded
    if (
        state.fee_class == FeeClass.REDUCED
        and state.reduced_until is not None
        and day > state.reduced_until
    ):
        return FeeClass.REGULAR, state.tier
    return state.fee_class, state.tier


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
    history: Sequence[FeeState] = (),
    tier: Decimal | None = None,
    date_of_birth: date | None = None,
) -> Dues:
    """What a member owes for `year`, when it is due and when unpaid dues become arrears: a
    twelfth of the yearly amount of the class and rule in force on the first of each month
    of membership. A minor pays the regular dues from the first month they begin as an adult."""
    months = months_of_membership(joined_on=joined_on, left_on=left_on, year=year)
    total = Decimal(0)
    due_rule = None
    for month in months:
        first = date(year, month, 1)
        month_class, month_tier = fee_state_on(
            first, history, FeeState(date.min, fee_class, reduced_until, tier)
        )
        if month_class == FeeClass.MINOR and is_adult(date_of_birth, first):
            month_class = FeeClass.REGULAR
        rule = rule_on(rules, month_class, first)
        if rule is None:
            continue
        # A regular member pays the tier they chose by income; otherwise the rule's amount.
        yearly = (
            month_tier
            if month_tier is not None and month_class == FeeClass.REGULAR
            else rule.yearly_amount
        )
        if joined_on.year == year and not rule.prorate_entry_year and month == months[0]:
            total += yearly / 12 * (month - 1)  # the months before entry are owed too
        total += yearly / 12
        due_rule = due_rule or rule
    if due_rule is None:
        return Dues(Decimal(0), None, None)
    due_on = max(date(year, due_rule.due_month, due_rule.due_day), joined_on)
    return Dues(
        total.quantize(CENT, rounding=ROUND_HALF_UP),
        due_on,
        due_on + timedelta(days=due_rule.grace_days),
    )


MONTHLY_MINIMUM = Decimal(36)  # finance order: monthly payment from 36 € a year


def instalments(
    *,
    amount: Decimal,
    year: int,
    months: Sequence[int],
    not_before: date,
    grace: timedelta,
) -> list[tuple[Decimal, date, date]]:
    """A year's dues paid monthly: one instalment per month of membership, due on the first
    of its month (never before `not_before`), the cents that do not divide evenly on the
    last; as (amount, due_on, overdue_on)."""
    if not months:
        return []
    share = (amount / len(months)).quantize(CENT, rounding=ROUND_DOWN)
    due: dict[date, Decimal] = {}  # months begun before `not_before` fall due together
    for index, month in enumerate(months):
        part = share if index < len(months) - 1 else amount - share * (len(months) - 1)
        due_on = max(date(year, month, 1), not_before)
        due[due_on] = due.get(due_on, Decimal(0)) + part
    return [(part, due_on, due_on + grace) for due_on, part in due.items()]


def yearly_rate(member: Member, on: date) -> Decimal | None:
    """The yearly dues of the member's class and tier as the finance order has them on `on`
    (a whole year's rate, before any pro-rata)."""
    fee_class = member.fee_class
    if fee_class == FeeClass.REDUCED and member.reduced_until and on > member.reduced_until:
        fee_class = FeeClass.REGULAR
    rule = rule_on(list(FeeRule.objects.all()), fee_class, on)
    if rule is None:
        return None
    if fee_class == FeeClass.REGULAR and member.dues_tier is not None:
        return member.dues_tier
    return rule.yearly_amount


def pays_monthly(amount: Decimal, months: Sequence[int]) -> bool:
    """Monthly only from 36 € a year (the yearly rate: a pro-rata first year counts whole)."""
    return bool(months) and amount * 12 / len(months) >= MONTHLY_MINIMUM


class _DuesRows:
    """A member's new dues rows of a year, numbered on from the last revision."""

    def __init__(self, member_id: int, year: int, revision: int, by: User | None) -> None:
        self.member_id, self.year, self.revision, self.by = member_id, year, revision, by
        self.rows: list[Charge] = []

    def add(
        self,
        amount: Decimal,
        due_on: date,
        overdue_on: date,
        memo: str,
        months: Sequence[int],
        not_before: date,
    ) -> None:
        parts = (
            instalments(
                amount=amount,
                year=self.year,
                months=months,
                not_before=not_before,
                grace=overdue_on - due_on,
            )
            if months
            else [(amount, due_on, overdue_on)]
        )
        for part, part_due, part_overdue in parts:
            self.revision += 1
            self.rows.append(
                Charge(
                    member_id=self.member_id,
                    year=self.year,
                    kind=Charge.Kind.DUES,
                    revision=self.revision,
                    amount=part,
                    due_on=part_due,
                    overdue_on=part_overdue,
                    memo=memo if len(parts) == 1 else f"{memo} ({part_due:%m/%Y})",
                    created_by=self.by,
                )
            )


def is_adult(date_of_birth: date | None, on: date) -> bool:
    """18 or older on `on` (someone born on 29 February turns 18 on 1 March)."""
    if date_of_birth is None:
        return False
    return (on.year - date_of_birth.year, on.month, on.day) >= (
        18,
        date_of_birth.month,
        date_of_birth.day,
    )


def _histories(member_ids: Iterable[int]) -> dict[int, list[FeeState]]:
    """Fee class, reduction and tier changes per member from the register's versions,
    oldest first, each from the day (in Berlin) it was recorded."""
    histories: dict[int, list[FeeState]] = defaultdict(list)
    versions = (
        MemberVersion.objects.filter(member_id__in=list(member_ids))
        .filter(
            Q(version=1)
            | Q(changes__has_key="fee_class")
            | Q(changes__has_key="reduced_until")
            | Q(changes__has_key="dues_tier")
        )
        .order_by("member_id", "version")
        .values_list("member_id", "recorded_at", "values")
    )
    for member_id, recorded_at, values in versions:
        until, tier = values.get("reduced_until"), values.get("dues_tier")
        recorded_on = (
            timezone.localdate(recorded_at) if isinstance(recorded_at, datetime) else recorded_at
        )
        histories[member_id].append(
            FeeState(
                recorded_on,
                values.get("fee_class", FeeClass.REGULAR),
                date.fromisoformat(until) if until else None,
                Decimal(tier) if tier not in (None, "") else None,
            )
        )
    for history in histories.values():
        if history:  # the first version stands for the time before it was recorded, too
            history[0] = history[0]._replace(since=date.min)
    return histories


def follow_events(
    member_ids: Sequence[int], *, since: date, by: User | None = None, event: str = "change"
) -> None:
    """Charges follow a register event in its own transaction. An admission charges the year
    of entry (as far back as last year: older years belong to the switch-over's opening
    balance) up to this one; an import of an existing register this year only; a change or
    an end corrects this year and every earlier year from the one it affects that was charged.
    """
    today = timezone.localdate()
    ids = list(member_ids)
    if event == "import":
        years = {today.year}
    elif event == "admission":
        years = set(range(max(min(since.year, today.year), today.year - 1), today.year + 1))
    else:
        years = {today.year} | set(
            Charge.objects.filter(member_id__in=ids, year__gte=since.year, year__lt=today.year)
            .exclude(kind=Charge.Kind.OPENING)
            .values_list("year", flat=True)
            .distinct()
        )
    rules = list(FeeRule.objects.order_by("-valid_from"))
    for year in sorted(years):
        _run_batch(ids, year=year, rules=rules, by=by, result=DuesRun(year=year), refresh=False)
    from finance import payments

    # Once for all years; every member, charged or not (an exempt member is active at once).
    payments.refresh(ids)


def run_dues(
    *,
    year: int,
    by: User | None = None,
    division: Division | None = None,
    as_of: date | None = None,
) -> DuesRun:
    """Charge every member's dues for `year`, in batches; run it as often as you like. Events
    charge as they happen, so in a year without missed events this finds nothing to do."""
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
                _run_batch(chunk, year=year, rules=rules, by=by, result=result, as_of=as_of)
                break
            except IntegrityError:
                if attempt:  # another run keeps writing the same rows: let it finish
                    raise
    from members.services import record_audit

    record_audit(
        actor=by,
        action="dues.run",
        obj=None,
        object_type="finance.charge",
        object_id=f"{year}",
        division=division,
        summary=f"Dues {year}: {result.charged} charged, {result.corrected} corrected, "
        f"{result.unchanged} unchanged",
        data={"year": year, "charged": result.charged, "corrected": result.corrected},
    )
    return result


@transaction.atomic
def _run_batch(
    ids: list[int],
    *,
    year: int,
    rules: list[FeeRule],
    by: User | None,
    result: DuesRun,
    as_of: date | None = None,
    refresh: bool = True,
) -> None:
    """Charge, correct or reverse these members' dues for `year`, as on `as_of` (today;
    an earlier day only to fill in history, as the demo does); `refresh`: store the charged
    members' balances here (else the caller does, in the same transaction)."""
    members = Member.objects.filter(pk__in=ids).values_list(
        "pk", "joined_on", "left_on", "fee_class", "reduced_until", "dues_tier", "date_of_birth"
    )
    histories = _histories(ids)
    # Members switched over from a previous system: dues that fell due on or before the
    # switch-over are in their opening balance, never charged here.
    switched = dict(
        OpeningBalance.objects.filter(member_id__in=ids, on__year__gte=year).values_list(
            "member_id", "on"
        )
    )
    charged = dict(
        Charge.objects.filter(member_id__in=ids, year=year)
        # An opening balance and the banks' charges for a return are owed, not dues.
        .exclude(kind__in=[Charge.Kind.OPENING, Charge.Kind.RETURN_FEE])
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
    today = as_of or timezone.localdate()
    # Members who pay by a monthly direct debit: their dues come in monthly instalments.
    monthly = set(
        Mandate.objects.filter(
            member_id__in=ids, monthly=True, revoked_on__isnull=True, unusable_since__isnull=True
        ).values_list("member_id", flat=True)
    )
    open_dues: dict[int, list[Charge]] = defaultdict(list)
    for charge in Charge.objects.filter(
        member_id__in=ids, year=year, kind=Charge.Kind.DUES, reversed_by__isnull=True
    ):
        open_dues[charge.member_id].append(charge)
    new_rows: list[Charge] = []
    for pk, joined_on, left_on, fee_class, reduced_until, tier, born in members:
        expected, due_on, overdue_on = dues_for(
            year=year,
            joined_on=joined_on,
            left_on=left_on,
            fee_class=fee_class,
            reduced_until=reduced_until,
            rules=rules,
            history=histories.get(pk, ()),
            tier=tier,
            date_of_birth=born,
        )
        opening = switched.get(pk)
        if opening is not None and (year < opening.year or (due_on and due_on <= opening)):
            expected = Decimal(0)
        current = charged.get(pk) or Decimal(0)
        if expected == current:
            result.unchanged += 1
            continue
        if due_on is not None and overdue_on is not None and due_on < today:
            # Charged late (a backdated admission, an increase mid-year): due from today,
            # so nobody is in arrears for money they could not have known they owed.
            due_on, overdue_on = today, today + (overdue_on - due_on)
        olds = open_dues.get(pk, [])
        months = (
            months_of_membership(joined_on=joined_on, left_on=left_on, year=year)
            if pk in monthly and due_on is not None and overdue_on is not None
            else []
        )
        if not pays_monthly(expected, months):
            months = []
        rows = _DuesRows(pk, year, revisions.get(pk, 0), by)
        if olds and expected > current > 0:
            # An increase is a row of its own (paid monthly: spread over the months left):
            # what was owed keeps its dates.
            rows.add(
                expected - current,
                due_on,
                overdue_on,
                f"Beitrag {year} (Erhöhung)",
                [m for m in months if m >= due_on.month],
                not_before=due_on,
            )
            new_rows += rows.rows
            result.corrected += 1
            continue
        for old in olds:
            new_rows.append(
                Charge(
                    member_id=pk,
                    year=year,
                    kind=Charge.Kind.REVERSAL,
                    amount=-old.amount,
                    due_on=old.due_on,
                    overdue_on=old.overdue_on,
                    reverses=old,
                    memo="Korrektur",
                    created_by=by,
                )
            )
        # Monthly instalments fall due on the first of their months, from the entry on
        # (charged late: from today); a correction keeps the first date it replaces.
        not_before = max(joined_on, today)
        if olds:  # a lower amount: owed since the first of the dates it replaces
            due_on = min(old.due_on for old in olds)
            overdue_on = min(old.overdue_on for old in olds)
            not_before = max(joined_on, due_on)
        if expected:
            rows.add(expected, due_on, overdue_on, f"Beitrag {year}", months, not_before)
            new_rows += rows.rows
        if pk in revisions:
            result.corrected += 1
        else:
            result.charged += 1
    Charge.objects.bulk_create(new_rows, batch_size=BATCH)
    if refresh:
        from finance import payments  # the stored balance follows in the same transaction

        payments.refresh({row.member_id for row in new_rows})


def on_register_change(
    sender: object,
    *,
    member_ids: Sequence[int],
    since: date,
    by: User | None,
    event: str = "change",
    welcome: bool = False,
    **kwargs: object,
) -> None:
    """The register changed (members.signals): charge, correct or reverse the dues now, in
    the change's transaction; greet a newly admitted member with their reference."""
    follow_events(member_ids, since=since, by=by, event=event)
    if event == "admission" and welcome:
        for member in Member.objects.filter(pk__in=member_ids).exclude(email=""):
            send_welcome(member)


def send_welcome(member: Member) -> None:
    from finance.references import reference_for
    from outbox import services as outbox

    year = timezone.localdate().year
    charge = (
        Charge.objects.filter(member=member, year=year, kind=Charge.Kind.DUES)
        .filter(reversed_by__isnull=True)
        .order_by("-revision")
        .first()
    )
    outbox.send_templated(
        name="member_welcome",
        to=[member.email],
        context={
            "member": member,
            "division": member.division,
            "reference": reference_for(member.membership_number, year),
            "charge": charge,
            "iban": settings.MUSTERROLLE_DUES_IBAN,
            "site_url": settings.SITE_URL,
        },
        sensitive=True,
    )


class FinanceOrderPolicy:
    """The fee rules as the register enforces them (members.policy): a tier from the regular
    rule's list, a reduction only with an end date at most a year ahead, the minors' class
    only for someone under 18 with a date of birth. A record brought in from the old register
    (`granting` False) may lack the end date or the date of birth; a new grant may not."""

    def tiers(self, on: date) -> list[Decimal]:
        rule = rule_on(
            list(FeeRule.objects.filter(fee_class=FeeClass.REGULAR)), FeeClass.REGULAR, on
        )
        return parse_tiers(rule.tiers) if rule is not None else []

    def amounts(self, on: date) -> dict[str, Decimal]:
        rules = list(FeeRule.objects.all())
        found = {fee_class: rule_on(rules, fee_class, on) for fee_class in FeeClass.values}
        return {fee_class: rule.yearly_amount for fee_class, rule in found.items() if rule}

    def validate(
        self,
        values: Mapping[str, Any],
        *,
        on: date,
        granting: bool = True,
        changed: Collection[str] | None = None,
    ) -> None:
        from django.utils.translation import gettext as _

        errors: dict[str, str] = {}
        fee_class = values.get("fee_class") or FeeClass.REGULAR
        tier = values.get("dues_tier")
        # A tier is checked when it is chosen: one the order no longer lists stays until changed.
        if tier is not None and tier != "" and (changed is None or "dues_tier" in changed):
            tier = Decimal(str(tier))
            allowed = self.tiers(on)
            if allowed and tier not in allowed:
                errors["dues_tier"] = _("Choose one of the tiers of the finance order: %s €.") % (
                    ", ".join(f"{t:.0f}" for t in allowed)
                )
        until = values.get("reduced_until")
        if fee_class == FeeClass.REDUCED:
            if not until and granting:
                errors["reduced_until"] = _("A reduction is granted until a date: enter it.")
            elif until and until > on + timedelta(days=366):
                errors["reduced_until"] = _("A reduction is granted for at most a year.")
        born = values.get("date_of_birth")
        if fee_class == FeeClass.MINOR:
            if not born and granting:
                errors["date_of_birth"] = _("The minors' class needs the date of birth.")
            elif born and is_adult(born, on):
                errors["fee_class"] = _("Members of 18 and older are not in the minors' class.")
        if errors:
            raise ValidationError(errors)


def parse_tiers(text: str) -> list[Decimal]:
    """'72,120, 180' -> [72, 120, 180]; anything unreadable is left out."""
    tiers = []
    for part in text.replace(";", ",").split(","):
        try:
            tiers.append(Decimal(part.strip()).quantize(CENT))
        except ArithmeticError:
            continue
    return sorted(set(tiers))


def apply_fee_transitions(*, on: date) -> int:
    """The register's fee class follows time: a reduction that has run out and a minor who
    has turned 18 become regular (a version each, recorded by the system). Dues already
    anticipate both, so the recharge this triggers finds nothing to change. Returns how many
    members changed."""
    from members import services as register

    expired = Member.objects.current().filter(fee_class=FeeClass.REDUCED, reduced_until__lt=on)
    adults = Member.objects.current().filter(
        fee_class=FeeClass.MINOR,
        date_of_birth__lte=_eighteenth_birthday_on_or_before(on),
    )
    changed = 0
    for queryset, reason in (
        (expired, "Ermäßigung abgelaufen"),
        (adults, "Volljährig: regulärer Beitrag"),
    ):
        for member in queryset.order_by("pk").iterator(chunk_size=BATCH):
            try:
                register.update_member(
                    by=None,
                    member=member,
                    changes={"fee_class": FeeClass.REGULAR},
                    reason=reason,
                    granting=False,  # the system follows time; it grants nothing
                )
            except ValidationError:  # one odd record must not stop everybody else's
                logger.exception("Fee class of member %s not moved to regular", member.pk)
                continue
            changed += 1
    return changed


def _eighteenth_birthday_on_or_before(on: date) -> date:
    """The latest date of birth of someone who is 18 on `on` (29 February: 28 February)."""
    try:
        return on.replace(year=on.year - 18)
    except ValueError:
        return date(on.year - 18, 2, 28)
