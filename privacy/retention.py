"""Retention with notice: what is kept how long, who is told first, what goes when.

The periods are settings (MUSTERROLLE_RETENTION_MONTHS, months):
- register: an ended membership's personal data, after its end. The member is told
  MUSTERROLLE_RETENTION_NOTICE_MONTHS ahead (by e-mail, or on the letter list), and is
  anonymised no earlier than that long after being told: the row keeps its number,
  division, dates and fee class, so every ledger sum and every figure of the past stays.
- finance: names and IBANs in bookings, mandates, receipts and opening balances of people
  who are no longer in the register (anonymised, or never matched), ten years after the end
  of the record's year (§147 AO). The amounts stay.
- candidates: declined or withdrawn candidates of the onboarding circles are deleted.
- deliveries: who received which mailing (the address and the link to the member), and the
  copies of sent e-mails.
- the access log (MUSTERROLLE_ACCESS_LOG_MONTHS) is deleted by the monthly job without asking.

Never touched: a current member, a member with an open balance, with a running dispute (an
open change request, a strike-off under way, a dispute recorded as a hold) or under a legal
hold. `plan()` writes nothing (the dry run); `apply()` carries out a plan that the federal
office confirmed, in batches, each leaving its lines in the erasure log.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance.models import ContributionReceipt, Mandate, OpeningBalance, Payment, StrikeOff
from mailings.models import Delivery, Mailing
from members import access
from members.models import (
    AccessLog,
    AuditEntry,
    ChangeRequest,
    Division,
    Member,
    MemberStatus,
    MemberVersion,
    RequestStatus,
)
from onboarding.models import Candidate, CandidateState
from outbox import services as outbox
from outbox.models import OutboundEmail
from privacy.models import ErasureLog, LegalHold, RetentionNotice

BATCH = 1000
# The fields of a person; the rest of a member's row (number, division, dates, fee class,
# status) stays for the ledger and the figures.
PERSONAL_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "date_of_birth",
)
MARKER = "anonymisiert"
ENDED_CANDIDATES = (CandidateState.DECLINED, CandidateState.WITHDRAWN)


def months(kind: str) -> int:
    return settings.MUSTERROLLE_RETENTION_MONTHS[kind]


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


# --- What is due -------------------------------------------------------------------------


@dataclass
class Notice:
    member_id: int
    state_id: int | None
    due_on: date
    channel: str


@dataclass
class Plan:
    """What a run would do on `on`: nothing in here has been written."""

    on: date
    notices: list[Notice] = field(default_factory=list)
    anonymise: list[int] = field(default_factory=list)
    anonymise_states: Counter[int | None] = field(default_factory=Counter)
    held_back: Counter[str] = field(default_factory=Counter)
    waiting: Counter[str] = field(default_factory=Counter)  # told, period not over yet
    coming: Counter[date] = field(default_factory=Counter)  # notices of the next months
    finance: dict[str, int] = field(default_factory=dict)
    candidates: list[int] = field(default_factory=list)
    candidate_states: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    emails: int = 0
    access_log: int = 0

    @property
    def empty(self) -> bool:
        return not (
            self.notices
            or self.anonymise
            or any(self.finance.values())
            or self.candidates
            or self.deliveries
            or self.emails
            or self.access_log
        )

    def digest(self) -> str:
        """What the federal office saw and confirmed; apply() refuses any other plan."""
        text = repr(
            (
                self.on,
                sorted(n.member_id for n in self.notices),
                sorted(self.anonymise),
                sorted(self.finance.items()),
                sorted(self.candidates),
                self.deliveries,
                self.emails,
                self.access_log,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def rows(self) -> list[tuple[str, str, str, int]]:
        """The preview: (kind, state or group, what happens, how many)."""
        names = dict(Division.objects.filter(depth__lte=2).values_list("pk", "name"))
        out: list[tuple[str, str, str, int]] = []
        notice_states: Counter[int | None] = Counter(n.state_id for n in self.notices)
        register = str(ErasureLog.Kind.REGISTER.label)
        for state, count in sorted(notice_states.items(), key=lambda i: names.get(i[0], "")):
            out.append((register, names.get(state, "–"), _("told now"), count))
        for state, count in sorted(
            self.anonymise_states.items(), key=lambda i: names.get(i[0], "")
        ):
            out.append((register, names.get(state, "–"), _("anonymised"), count))
        for reason, count in sorted(self.held_back.items()):
            out.append((register, str(HELD_BACK[reason]), _("kept"), count))
        finance = str(ErasureLog.Kind.FINANCE.label)
        for what, count in sorted(self.finance.items()):
            if count:
                out.append(
                    (finance, str(FINANCE_LABELS[what]), _("names and IBANs removed"), count)
                )
        candidate = str(ErasureLog.Kind.CANDIDATE.label)
        for state, count in sorted(self.candidate_states.items()):
            out.append((candidate, str(CandidateState(state).label), _("deleted"), count))
        deliveries = str(ErasureLog.Kind.DELIVERIES.label)
        if self.deliveries:
            out.append((deliveries, _("mailings"), _("recipients removed"), self.deliveries))
        if self.emails:
            out.append((deliveries, _("sent e-mails"), _("deleted"), self.emails))
        if self.access_log:
            out.append((str(ErasureLog.Kind.ACCESS_LOG.label), "–", _("deleted"), self.access_log))
        return out


HELD_BACK = {
    "balance": gettext_lazy("open balance"),
    "dispute": gettext_lazy("running dispute"),
    "hold": gettext_lazy("legal hold"),
}
FINANCE_LABELS = {
    "payments": gettext_lazy("bookings"),
    "mandates": gettext_lazy("direct debit mandates"),
    "receipts": gettext_lazy("contribution receipts"),
    "opening_balances": gettext_lazy("opening balances"),
}


def disputed() -> Q:
    """Members with something running that retention must wait for."""
    return Q(
        Exists(ChangeRequest.objects.filter(member=OuterRef("pk"), status=RequestStatus.OPEN))
    ) | Q(
        Exists(
            StrikeOff.objects.filter(
                member=OuterRef("pk"),
                status__in=[
                    StrikeOff.Status.PROPOSED,
                    StrikeOff.Status.DECIDED,
                    StrikeOff.Status.OBJECTED,
                ],
            )
        )
    )


def _ended_members(on: date) -> QuerySet[Member]:
    """Ended, not yet anonymised, whose notice is due by `on`."""
    notice_from = on - relativedelta(months=months("register"))
    notice_from += relativedelta(months=settings.MUSTERROLLE_RETENTION_NOTICE_MONTHS)
    return Member.objects.filter(
        status=MemberStatus.ENDED, anonymised_on__isnull=True, left_on__lte=notice_from
    )


def plan(on: date | None = None) -> Plan:
    """The dry run: everything a run on `on` would do, per kind and state. Writes nothing."""
    on = on or timezone.localdate()
    result = Plan(on=on)
    notice_months = relativedelta(months=settings.MUSTERROLLE_RETENTION_NOTICE_MONTHS)
    keep = relativedelta(months=months("register"))
    holds = LegalHold.objects.filter(member=OuterRef("pk"), lifted_on__isnull=True)
    rows = (
        _ended_members(on)
        .annotate(
            hold=Exists(holds.filter(kind=LegalHold.Kind.HOLD)),
            dispute=ExpressionWrapper(
                Q(Exists(holds.filter(kind=LegalHold.Kind.DISPUTE))) | disputed(),
                output_field=BooleanField(),
            ),
            told_due=F("retention_notice__due_on"),
        )
        .values_list("pk", "state_id", "left_on", "balance", "email", "hold", "dispute", "told_due")
        .order_by()
    )
    for pk, state_id, left_on, balance, email, hold, dispute, told_due in rows.iterator(
        chunk_size=5000
    ):
        if hold:
            result.held_back["hold"] += 1
        elif dispute:
            result.held_back["dispute"] += 1
        elif balance:
            result.held_back["balance"] += 1
        elif told_due is None:
            result.notices.append(
                Notice(
                    member_id=pk,
                    state_id=state_id,
                    due_on=max(left_on + keep, on + notice_months),
                    channel=RetentionNotice.Channel.EMAIL
                    if email
                    else RetentionNotice.Channel.LETTER,
                )
            )
        elif told_due <= on:
            result.anonymise.append(pk)
            result.anonymise_states[state_id] += 1
        else:
            result.waiting[told_due.isoformat()[:7]] += 1
    # When the next notices go out, month by month, for the coming year.
    soon = (
        Member.objects.filter(
            status=MemberStatus.ENDED,
            anonymised_on__isnull=True,
            left_on__gt=on - keep + notice_months,
            left_on__lte=on - keep + notice_months + relativedelta(months=12),
        )
        .values_list("left_on", flat=True)
        .order_by()
    )
    for left_on in soon.iterator(chunk_size=5000):
        told_on = left_on + keep - notice_months
        result.coming[told_on.replace(day=1)] += 1
    result.finance = {name: qs.count() for name, qs in finance_records(on).items()}
    for pk, state in _candidates(on).values_list("pk", "state").order_by():
        result.candidates.append(pk)
        result.candidate_states[state] += 1
    result.deliveries = _deliveries(on).count()
    result.emails = _emails(on).count()
    result.access_log = _access_log(on).count()
    return result


def finance_records(on: date) -> dict[str, QuerySet]:
    """Records of people no longer in the register, past the ten years of §147 AO, that
    still carry a name or an IBAN."""
    before = date(on.year - months("finance") // 12, 1, 1)
    gone = Q(member__isnull=True) | Q(member__anonymised_on__isnull=False)
    return {
        "payments": Payment.objects.filter(gone, booked_on__lt=before).exclude(
            counterparty_name="", counterparty_iban=""
        ),
        "mandates": Mandate.objects.filter(
            member__anonymised_on__isnull=False, signed_on__lt=before
        )
        .filter(Q(revoked_on__isnull=True) | Q(revoked_on__lt=before))
        .filter(Q(last_collected_on__isnull=True) | Q(last_collected_on__lt=before))
        .exclude(holder="", iban=""),
        "receipts": ContributionReceipt.objects.filter(
            member__anonymised_on__isnull=False, issued_on__lt=before
        ).exclude(address=[]),
        "opening_balances": OpeningBalance.objects.filter(
            member__anonymised_on__isnull=False, on__lt=before
        ).exclude(iban=""),
    }


def _candidates(on: date) -> QuerySet[Candidate]:
    return Candidate.objects.filter(
        state__in=ENDED_CANDIDATES,
        updated_at__lt=_midnight(on - relativedelta(months=months("candidates"))),
    )


def _deliveries(on: date) -> QuerySet[Delivery]:
    before = _midnight(on - relativedelta(months=months("deliveries")))
    old = Mailing.objects.filter(finished_at__lt=before)
    return Delivery.objects.filter(mailing__in=old.values("pk")).filter(
        Q(member__isnull=False) | ~Q(email="")
    )


def _emails(on: date) -> QuerySet[OutboundEmail]:
    before = _midnight(on - relativedelta(months=months("deliveries")))
    return OutboundEmail.objects.filter(
        created_at__lt=before,
        status__in=[OutboundEmail.Status.SENT, OutboundEmail.Status.FAILED],
    )


def _access_log(on: date) -> QuerySet[AccessLog]:
    return AccessLog.objects.filter(
        at__lt=_midnight(on - relativedelta(months=settings.MUSTERROLLE_ACCESS_LOG_MONTHS))
    )


# --- Doing it ----------------------------------------------------------------------------


class PlanChanged(Exception):
    """The register changed between the preview and the confirmation."""


@dataclass
class Done:
    told: int = 0
    anonymised: int = 0
    finance: int = 0
    candidates: int = 0
    deliveries: int = 0
    emails: int = 0
    access_log: int = 0


def send_notices(notices: list[Notice], on: date) -> int:
    """Tell each member once (the one-to-one row is the guard); returns how many were told."""
    told = 0
    for start in range(0, len(notices), BATCH):
        batch = {n.member_id: n for n in notices[start : start + BATCH]}
        with transaction.atomic():
            already = set(
                RetentionNotice.objects.filter(member_id__in=batch).values_list(
                    "member_id", flat=True
                )
            )
            fresh = [n for pk, n in batch.items() if pk not in already]
            RetentionNotice.objects.bulk_create(
                [
                    RetentionNotice(
                        member_id=n.member_id, sent_on=on, due_on=n.due_on, channel=n.channel
                    )
                    for n in fresh
                ],
                ignore_conflicts=True,
            )
            members = Member.objects.in_bulk([n.member_id for n in fresh])
            messages = [
                outbox.Templated(
                    to=[members[n.member_id].email],
                    context={
                        "member": members[n.member_id],
                        "due_on": n.due_on,
                        "office_email": settings.MUSTERROLLE_OFFICE_EMAIL,
                    },
                )
                for n in fresh
                if n.channel == RetentionNotice.Channel.EMAIL
            ]
            if messages:
                outbox.send_templated_many(name="retention_notice", messages=messages)
            told += len(fresh)
    return told


def letters(on: date | None = None) -> QuerySet[Member]:
    """Members to be told by letter: no e-mail address; their notice is on the list."""
    return (
        Member.objects.filter(
            retention_notice__channel=RetentionNotice.Channel.LETTER,
            anonymised_on__isnull=True,
        )
        .select_related("retention_notice")
        .order_by("postal_code", "last_name", "pk")
    )


def apply(confirmed: Plan | str, *, by: object = None) -> Done:
    """Carry out the plan the federal office confirmed (the plan, or its digest): the plan
    is made again now and must be the same, or nothing happens."""
    if isinstance(confirmed, Plan):
        on, digest = confirmed.on, confirmed.digest()
    else:
        on, digest = timezone.localdate(), confirmed
    current = plan(on)
    if current.digest() != digest:
        raise PlanChanged
    done = Done()
    done.told = send_notices(current.notices, on)
    for start in range(0, len(current.anonymise), BATCH):
        done.anonymised += anonymise(current.anonymise[start : start + BATCH], on)
    done.finance = scrub_finance(on)
    done.candidates = delete_candidates(current.candidates, on)
    done.deliveries, done.emails = forget_deliveries(on)
    done.access_log = prune_access_log(on)
    return done


@transaction.atomic
def anonymise(ids: list[int], on: date) -> int:
    """Remove the persons of these members; their rows, periods and bookings stay. Members
    who are current again, owe or are held are left alone (checked again under lock)."""
    members = list(
        Member.objects.select_for_update()
        .filter(pk__in=ids, status=MemberStatus.ENDED, anonymised_on__isnull=True, balance=0)
        .exclude(disputed())
        .exclude(Exists(LegalHold.objects.filter(member=OuterRef("pk"), lifted_on__isnull=True)))
        .order_by("pk")
    )
    if not members:
        return 0
    pks = [m.pk for m in members]
    Member.objects.filter(pk__in=pks).update(
        first_name="",
        last_name=MARKER,
        email="",
        phone="",
        street="",
        postal_code="",
        city="",
        date_of_birth=None,
        newsletter_consent=False,
        search_text="",
        anonymised_on=on,
    )
    versions = list(MemberVersion.objects.filter(member_id__in=pks).only("values", "changes"))
    for version in versions:
        version.values = _scrubbed(version.values)
        version.changes = _scrubbed(version.changes)
    MemberVersion.objects.bulk_update(versions, ["values", "changes"], batch_size=BATCH)
    requests = list(
        ChangeRequest.objects.filter(member_id__in=pks).only("proposed", "base", "note")
    )
    for request in requests:
        request.proposed = _scrubbed(request.proposed)
        request.base = _scrubbed(request.base)
        request.note = ""
    ChangeRequest.objects.bulk_update(requests, ["proposed", "base", "note"], batch_size=BATCH)
    # The register's own audit lines name the person; the action and the date stay.
    about = Q(object_type="members.member", object_id__in=[str(pk) for pk in pks]) | Q(
        object_type="finance.strikeoff",
        object_id__in=[
            str(pk)
            for pk in StrikeOff.objects.filter(member_id__in=pks).values_list("pk", flat=True)
        ],
    )
    AuditEntry.objects.filter(about).update(summary=F("action"), data={})
    addresses = {m.email.lower() for m in members if m.email}
    Delivery.objects.filter(member_id__in=pks).update(email="")
    if addresses:
        _emails_to(addresses).delete()
    ErasureLog.objects.bulk_create(
        [
            ErasureLog(number=str(m.membership_number), done_on=on, kind=ErasureLog.Kind.REGISTER)
            for m in members
        ]
    )
    return len(members)


def _scrubbed(values: dict) -> dict:
    return {
        key: (None if key == "date_of_birth" else "") if key in PERSONAL_FIELDS else value
        for key, value in (values or {}).items()
    }


def _emails_to(addresses: set[str]) -> QuerySet[OutboundEmail]:
    """Copies of e-mails sent to these addresses (compared in lower case)."""
    q = Q(pk__in=[])
    for address in addresses:
        q |= Q(to__icontains=address)
    return OutboundEmail.objects.filter(q).exclude(status=OutboundEmail.Status.QUEUED)


@transaction.atomic
def scrub_finance(on: date) -> int:
    records = finance_records(on)
    count = 0
    count += records["payments"].update(counterparty_name="", counterparty_iban="")
    count += records["mandates"].update(holder="", iban="", bic="")
    count += records["receipts"].update(address=[])
    count += records["opening_balances"].update(iban="")
    if count:
        ErasureLog.objects.create(done_on=on, kind=ErasureLog.Kind.FINANCE, count=count)
    return count


@transaction.atomic
def delete_candidates(ids: list[int], on: date) -> int:
    candidates = list(_candidates(on).filter(pk__in=ids).select_for_update())
    ErasureLog.objects.bulk_create(
        [
            ErasureLog(number=f"K{c.pk}", done_on=on, kind=ErasureLog.Kind.CANDIDATE)
            for c in candidates
        ]
    )
    for candidate in candidates:
        candidate.delete()
    return len(candidates)


@transaction.atomic
def forget_deliveries(on: date) -> tuple[int, int]:
    deliveries = _deliveries(on).update(member=None, email="")
    emails, _ = _emails(on).delete()
    if deliveries or emails:
        ErasureLog.objects.create(
            done_on=on, kind=ErasureLog.Kind.DELIVERIES, count=deliveries + emails
        )
    return deliveries, emails


@transaction.atomic
def prune_access_log(on: date) -> int:
    deleted, _ = _access_log(on).delete()
    if deleted:
        ErasureLog.objects.create(done_on=on, kind=ErasureLog.Kind.ACCESS_LOG, count=deleted)
    return deleted


def federal_office() -> Iterator[str]:
    """The addresses of those who confirm a run."""
    from members.models import User

    for user in User.objects.filter(is_active=True, is_staff=True).order_by("pk"):
        if access.has_global_access(user):
            yield user.email


def monthly(on: date | None = None) -> Plan:
    """The scheduled job: the access log past its period goes, members due are told, and
    the federal office is asked to confirm what would be erased. Nothing else is erased."""
    on = on or timezone.localdate()
    prune_access_log(on)
    current = plan(on)
    send_notices(current.notices, on)
    current = plan(on)
    if not current.empty:
        to = list(federal_office())
        if to:
            outbox.send_templated(
                name="retention_confirm",
                to=to,
                context={
                    "plan": current,
                    "rows": current.rows(),
                    "url": settings.SITE_URL + "/privacy/retention/",
                },
            )
    return current
