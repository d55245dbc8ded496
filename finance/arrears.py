"""What follows arrears (DESIGN.md, rules: arrears): reminders, letters, striking off the
register; and the notice that a reduction of the dues ends.

A member in arrears gets reminder 1 for their spell of arrears (a spell is keyed by the day it
began, `Member.arrears_since`), reminder 2 at least MUSTERROLLE_REMINDER_INTERVAL_DAYS later;
by e-mail, or as a letter the boards print when there is no address. After more than
MUSTERROLLE_STRIKE_OFF_MONTHS months in the same spell and both reminders the member is
proposed for striking off; the federal office decides, the member is told and may object for
MUSTERROLLE_OBJECTION_DAYS; without an objection the membership ends. Paying (which ends the
spell) drops the proposal at any stage before that.

Every step is idempotent by a constraint (one reminder per member, spell and level; one
proposal per member and spell; one reduction notice per member and reduction), so the daily
tasks may run twice. The runs read the stored payment state (kept true by finance on every
booking and each night) in batches of ids and write in one transaction per batch.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from finance.letters import letters_pdf as letters_pdf  # the reminders as letters
from finance.letters import short_date
from finance.letters import strike_off_letters_pdf as strike_off_letters_pdf
from finance.models import FeeRule, ReductionNotice, Reminder, StrikeOff
from finance.references import reference_for
from members import access
from members import services as members
from members.models import (
    Division,
    EndReason,
    FeeClass,
    Member,
    MemberStatus,
    PaymentStatus,
    User,
)
from outbox import services as outbox

BATCH = 500
OPEN = (StrikeOff.Status.PROPOSED, StrikeOff.Status.DECIDED)
_MEMBER_FIELDS = (
    "pk",
    "membership_number",
    "first_name",
    "last_name",
    "email",
    "balance",
    "arrears_since",
    "reduced_until",
    "dues_tier",
)


@dataclass
class ReminderRun:
    """What a reminder run did (or, dry, would do): reminders by level, how many of them are
    letters (their ids, to print), members in arrears for whom nothing was due."""

    on: date
    first: int = 0
    second: int = 0
    letters: int = 0
    skipped: int = 0
    letter_ids: list[int] = field(default_factory=list)

    def add(self, other: ReminderRun) -> None:
        self.first += other.first
        self.second += other.second
        self.letters += other.letters
        self.skipped += other.skipped
        self.letter_ids += other.letter_ids


@dataclass
class StrikeOffRun:
    struck_off: int = 0
    dropped: int = 0


# --- Reads ------------------------------------------------------------------------------


def members_in_arrears(*, on: date, division: Division | None = None) -> QuerySet[Member]:
    """Current members who owe money, by the stored payment state."""
    qs = Member.objects.current().filter(
        payment_status=PaymentStatus.IN_ARREARS, balance__lt=0, arrears_since__lte=on
    )
    return qs if division is None else qs.in_subtree(division)


def strike_off_candidates(*, on: date) -> QuerySet[Member]:
    """Members in arrears for more than the configured months whose spell has both reminders,
    the second at least the interval ago, and no proposal yet."""
    interval = timedelta(days=settings.MUSTERROLLE_REMINDER_INTERVAL_DAYS)
    spell = {"member": OuterRef("pk"), "arrears_since": OuterRef("arrears_since")}
    return (
        members_in_arrears(on=on)
        .filter(arrears_since__lt=months_before(on, settings.MUSTERROLLE_STRIKE_OFF_MONTHS))
        .filter(Exists(Reminder.objects.filter(**spell, level=1)))
        .filter(Exists(Reminder.objects.filter(**spell, level=2, sent_on__lte=on - interval)))
        .exclude(Exists(StrikeOff.objects.filter(**spell)))
    )


def reminders_visible_to(user: Any) -> QuerySet[Reminder]:
    return access.scope_by_division(
        Reminder.objects.all(), user, access.Action.VIEW_FINANCE, field="member__division"
    )


def strike_offs_visible_to(user: Any) -> QuerySet[StrikeOff]:
    return access.scope_by_division(
        StrikeOff.objects.all(), user, access.Action.VIEW_FINANCE, field="member__division"
    )


def months_before(day: date, months: int) -> date:
    """The same day `months` months earlier (the month's last day where it is shorter)."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _still_in_arrears() -> Q:
    """A strike-off (through `member`) whose member is still in the arrears it is about."""
    return Q(
        member__payment_status=PaymentStatus.IN_ARREARS,
        member__balance__lt=0,
        member__arrears_since=F("arrears_since"),
    ) & ~Q(member__status=MemberStatus.ENDED)


def _batches(
    qs: QuerySet[Member], fields: Sequence[str] = _MEMBER_FIELDS
) -> Iterator[list[Member]]:
    """The members of `qs` in batches by id: each batch one query, however large the register."""
    last = 0
    while True:
        batch = list(qs.filter(pk__gt=last).order_by("pk").only(*fields)[:BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def _retried[T](write: Callable[[], T]) -> T:
    """Run a batch's transaction; when another run inserted the same rows first, the
    constraint stops this one, and the batch is read and written again once."""
    try:
        return write()
    except IntegrityError:
        return write()


# --- Reminders --------------------------------------------------------------------------


def send_reminders(
    *, on: date, division: Division | None = None, dry_run: bool = False
) -> ReminderRun:
    """Remind every member in arrears (of `division`'s subtree) whose next reminder is due:
    e-mail when they have an address, else a letter (its id in `letter_ids`). Each batch is
    its own transaction; only reminders this run created are sent, so two runs on the same day
    send each reminder once. `dry_run` counts without writing or sending."""
    run = ReminderRun(on=on)
    interval = timedelta(days=settings.MUSTERROLLE_REMINDER_INTERVAL_DAYS)
    for batch in _batches(reminders_due(on=on, division=division)):
        run.add(_retried(lambda batch=batch: _remind(batch, on, interval, dry_run)))
    in_arrears = members_in_arrears(on=on, division=division).count()
    run.skipped = max(0, in_arrears - run.first - run.second)
    return run


def reminders_due(*, on: date, division: Division | None = None) -> QuerySet[Member]:
    """Members in arrears whose next reminder is due: none yet for this spell, or the first
    at least the interval ago and no second (the database picks them: a day's run reads only
    these, however many have been reminded already)."""
    interval = timedelta(days=settings.MUSTERROLLE_REMINDER_INTERVAL_DAYS)
    spell = {"member": OuterRef("pk"), "arrears_since": OuterRef("arrears_since")}
    first = Reminder.objects.filter(**spell, level=1)
    second = Reminder.objects.filter(**spell, level=2)
    return members_in_arrears(on=on, division=division).filter(
        ~Exists(first) | (Exists(first.filter(sent_on__lte=on - interval)) & ~Exists(second))
    )


@transaction.atomic
def _remind(batch: list[Member], on: date, interval: timedelta, dry_run: bool) -> ReminderRun:
    part = ReminderRun(on=on)
    sent = _sent(batch)
    new: list[Reminder] = []
    for member in batch:
        level = _due_level(sent[member.pk, member.arrears_since], on=on, interval=interval)
        if level is None:
            part.skipped += 1
        else:
            new.append(_reminder(member, level, on))
    part.first = sum(1 for reminder in new if reminder.level == 1)
    part.second = len(new) - part.first
    part.letters = sum(1 for reminder in new if reminder.channel == Reminder.Channel.LETTER)
    if dry_run or not new:
        return part
    # No ignore_conflicts: a row another run inserted first fails the batch, which is then
    # read again (_retried), so every reminder created here is one this run may send.
    Reminder.objects.bulk_create(new)
    for reminder in new:
        if reminder.channel == Reminder.Channel.LETTER:
            part.letter_ids.append(reminder.pk)
        else:
            first_sent_on = sent[reminder.member_id, reminder.arrears_since].get(1)
            _email_reminder(reminder, first_sent_on=first_sent_on)
    return part


def _sent(batch: list[Member]) -> defaultdict[tuple[int, date], dict[int, date]]:
    """The reminders these members had: (member, spell) -> {level: sent on}."""
    sent: defaultdict[tuple[int, date], dict[int, date]] = defaultdict(dict)
    for member_id, since, level, sent_on in Reminder.objects.filter(
        member_id__in=[member.pk for member in batch]
    ).values_list("member_id", "arrears_since", "level", "sent_on"):
        sent[member_id, since][level] = sent_on
    return sent


def _reminder(member: Member, level: int, on: date) -> Reminder:
    return Reminder(
        member=member,
        level=level,
        arrears_since=member.arrears_since,
        sent_on=on,
        amount=-member.balance,
        reference=reference_for(member.membership_number, on.year),
        channel=Reminder.Channel.EMAIL if member.email else Reminder.Channel.LETTER,
    )


def _due_level(levels: dict[int, date], *, on: date, interval: timedelta) -> int | None:
    if 1 not in levels:
        return 1
    if 2 not in levels and levels[1] <= on - interval:
        return 2
    return None


def _email_reminder(reminder: Reminder, *, first_sent_on: date | None) -> None:
    member = reminder.member
    outbox.send_templated(
        name="dues_reminder",
        to=[member.email],
        context={
            "member": member,
            "reminder": reminder,
            "first_sent_on": first_sent_on,
            "iban": settings.MUSTERROLLE_DUES_IBAN,
            "strike_off_months": settings.MUSTERROLLE_STRIKE_OFF_MONTHS,
            "office_email": settings.MUSTERROLLE_OFFICE_EMAIL,
        },
        reply_to=_reply_to(),
        sensitive=True,
    )


def _reply_to() -> list[str]:
    return [settings.MUSTERROLLE_OFFICE_EMAIL] if settings.MUSTERROLLE_OFFICE_EMAIL else []


# --- Striking off -----------------------------------------------------------------------


def propose_strike_offs(*, on: date) -> int:
    """Propose every candidate (strike_off_candidates) once; returns how many were proposed."""
    proposed = 0
    for batch in _batches(strike_off_candidates(on=on), ("pk", "balance", "arrears_since")):
        with transaction.atomic():
            rows = [
                StrikeOff(
                    member=member,
                    arrears_since=member.arrears_since,
                    proposed_on=on,
                    amount=-member.balance,
                )
                for member in batch
            ]
            # Another run that proposed the same spell first wins; nothing is sent here.
            StrikeOff.objects.bulk_create(rows, ignore_conflicts=True)
        proposed += len(rows)
    return proposed


def _federal_office_only(by: User | None) -> None:
    if by is not None and not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office strikes members off the register."))


def _locked(strike: StrikeOff) -> StrikeOff:
    return (
        StrikeOff.objects.select_for_update()
        .select_related("member", "member__division")
        .get(pk=strike.pk)
    )


def _audit(strike: StrikeOff, by: User | None, action: str, summary: str, **data: Any) -> None:
    members.record_audit(
        actor=by,
        action=f"finance.strike_off_{action}",
        obj=strike,
        division=strike.member.division,
        summary=f"{strike.member}: {summary}",
        data={
            "member": strike.member_id,
            "arrears_since": strike.arrears_since.isoformat(),
            **data,
        },
    )


@transaction.atomic
def decide_strike_off(*, strike: StrikeOff, by: User, on: date) -> StrikeOff:
    """The federal office decides to strike the member off. The member is told by e-mail, or
    (without an address) by a letter to print (strike_off_letters_pdf), that they may object
    until `on` + MUSTERROLLE_OBJECTION_DAYS; strike_off_due ends the membership after that."""
    if not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office strikes members off the register."))
    strike = _locked(strike)
    if strike.status != StrikeOff.Status.PROPOSED:
        raise ValidationError(_("Only a proposed strike-off can be decided."))
    if not StrikeOff.objects.filter(_still_in_arrears(), pk=strike.pk).exists():
        raise ValidationError(
            _("%(member)s is no longer in the arrears this proposal is about: drop it.")
            % {"member": strike.member}
        )
    strike.status = StrikeOff.Status.DECIDED
    strike.decided_on = on
    strike.decided_by = by
    strike.objection_until = on + timedelta(days=settings.MUSTERROLLE_OBJECTION_DAYS)
    strike.save(update_fields=["status", "decided_on", "decided_by", "objection_until"])
    channel = Reminder.Channel.EMAIL if strike.member.email else Reminder.Channel.LETTER
    if channel == Reminder.Channel.EMAIL:
        _email_decision(strike)
    _audit(
        strike,
        by,
        "decided",
        f"to be struck off; objection until {strike.objection_until.isoformat()}",
        objection_until=strike.objection_until.isoformat(),
        amount=str(strike.amount),
        channel=channel,
    )
    return strike


def _email_decision(strike: StrikeOff) -> None:
    member = strike.member
    assert strike.decided_on is not None  # noqa: S101
    outbox.send_templated(
        name="strike_off_decided",
        to=[member.email],
        context={
            "member": member,
            "strike": strike,
            "iban": settings.MUSTERROLLE_DUES_IBAN,
            "reference": reference_for(member.membership_number, strike.decided_on),
            "office_email": settings.MUSTERROLLE_OFFICE_EMAIL,
        },
        reply_to=_reply_to(),
        sensitive=True,
    )


@transaction.atomic
def record_objection(*, strike: StrikeOff, by: User, note: str = "") -> StrikeOff:
    """The member objected in time: they are not struck off for this spell of arrears."""
    if not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office strikes members off the register."))
    strike = _locked(strike)
    if strike.status != StrikeOff.Status.DECIDED:
        raise ValidationError(_("An objection can only be recorded against a decision."))
    strike.status = StrikeOff.Status.OBJECTED
    strike.note = note[:300]
    strike.save(update_fields=["status", "note"])
    _audit(strike, by, "objected", "objected to being struck off", note=note)
    return strike


@transaction.atomic
def drop_strike_off(*, strike: StrikeOff, by: User | None, note: str = "") -> StrikeOff:
    """Give up a proposal or decision (the member paid, or the office decides against it);
    `by` None is the daily job finding the arrears over."""
    _federal_office_only(by)
    strike = _locked(strike)
    if strike.status not in OPEN:
        raise ValidationError(_("Only a proposed or decided strike-off can be dropped."))
    strike.status = StrikeOff.Status.DROPPED
    strike.note = note[:300]
    strike.save(update_fields=["status", "note"])
    _audit(strike, by, "dropped", "strike-off dropped", note=note)
    return strike


def strike_off_due(*, on: date) -> StrikeOffRun:
    """Daily: end the membership of those whose objection period ended before `on` and who
    are still in the same arrears; drop the proposals and decisions whose arrears are over
    (paid, or the membership ended otherwise). Each member in a transaction of its own."""
    run = StrikeOffRun()
    lapsed = StrikeOff.objects.filter(status__in=OPEN).exclude(_still_in_arrears())
    for strike in lapsed.order_by("pk"):
        drop_strike_off(strike=strike, by=None, note=_("No longer in these arrears."))
        run.dropped += 1
    due = StrikeOff.objects.filter(
        _still_in_arrears(), status=StrikeOff.Status.DECIDED, objection_until__lt=on
    )
    for strike in due.order_by("pk"):
        if _strike_off(strike, on):
            run.struck_off += 1
    return run


@transaction.atomic
def _strike_off(strike: StrikeOff, on: date) -> bool:
    strike = _locked(strike)
    if (
        strike.status != StrikeOff.Status.DECIDED
        or not StrikeOff.objects.filter(_still_in_arrears(), pk=strike.pk).exists()
    ):
        return False  # objected, dropped or paid meanwhile: the next run drops it
    assert strike.decided_on is not None  # noqa: S101
    members.end_membership(
        by=None,
        member=strike.member,
        on=on,
        reason=EndReason.STRUCK_OFF,
        note=_("Struck off: in arrears since %(since)s, decided on %(day)s, no objection.")
        % {"since": short_date(strike.arrears_since), "day": short_date(strike.decided_on)},
    )
    strike.status = StrikeOff.Status.STRUCK_OFF
    strike.save(update_fields=["status"])
    _audit(strike, None, "done", f"struck off on {on.isoformat()}", on=on.isoformat())
    return True


# --- Reductions -------------------------------------------------------------------------


def notify_reductions(*, on: date) -> int:
    """Tell members by e-mail, once per reduction, that their reduced dues end within the
    next MUSTERROLLE_REDUCTION_NOTICE_DAYS days; returns how many were told."""
    until = on + timedelta(days=settings.MUSTERROLLE_REDUCTION_NOTICE_DAYS)
    members_ending = (
        Member.objects.current()
        .filter(fee_class=FeeClass.REDUCED, reduced_until__gte=on, reduced_until__lte=until)
        .exclude(email="")
        .exclude(
            Exists(
                ReductionNotice.objects.filter(
                    member=OuterRef("pk"), reduced_until=OuterRef("reduced_until")
                )
            )
        )
    )
    rules = list(FeeRule.objects.filter(fee_class=FeeClass.REGULAR).order_by("-valid_from"))
    told = 0
    for batch in _batches(members_ending):
        told += _retried(lambda batch=batch: _notify(batch, on, rules))
    return told


@transaction.atomic
def _notify(batch: list[Member], on: date, rules: list[FeeRule]) -> int:
    already = set(
        ReductionNotice.objects.filter(member_id__in=[m.pk for m in batch]).values_list(
            "member_id", "reduced_until"
        )
    )
    batch = [m for m in batch if (m.pk, m.reduced_until) not in already]
    ReductionNotice.objects.bulk_create(
        [ReductionNotice(member=m, reduced_until=m.reduced_until, sent_on=on) for m in batch]
    )
    for member in batch:
        assert member.reduced_until is not None  # noqa: S101
        regular_from = member.reduced_until + timedelta(days=1)
        outbox.send_templated(
            name="reduction_ending",
            to=[member.email],
            context={
                "member": member,
                "reduced_until": member.reduced_until,
                "regular_from": regular_from,
                "regular_amount": member.dues_tier or _regular_amount(rules, regular_from),
                "office_email": settings.MUSTERROLLE_OFFICE_EMAIL,
            },
            reply_to=_reply_to(),
            sensitive=True,
        )
    return len(batch)


def _regular_amount(rules: list[FeeRule], on: date) -> Decimal | None:
    """The regular class's yearly amount on `on` (rules newest first)."""
    for rule in rules:
        if rule.valid_from <= on and (rule.valid_until is None or on <= rule.valid_until):
            return rule.yearly_amount
    return None
