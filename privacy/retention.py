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
from dataclasses import dataclass, field
from datetime import date, datetime, time

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Q, QuerySet
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from finance.models import (
    BankUpload,
    Collection,
    ContributionReceipt,
    Mandate,
    MonthlyStatement,
    OpeningBalance,
    Payment,
    StrikeOff,
    Switchover,
)
from mailings.models import Delivery, Mailing, Suppression
from members.models import (
    AccessLog,
    AuditEntry,
    ChangeRequest,
    Division,
    ImportBatch,
    Member,
    MemberStatus,
    MemberVersion,
    RequestKind,
    RequestStatus,
    RoleAssignment,
    User,
)
from members.services import record_audit
from onboarding.models import Candidate, CandidateState, CircleMembership, Mediation
from outbox import services as outbox
from outbox.models import OutboundEmail
from privacy import need_to_know
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
    to_letter: list[int] = field(default_factory=list)  # their notice e-mail bounced
    coming: Counter[date] = field(default_factory=Counter)  # notices of the next months
    finance: dict[str, int] = field(default_factory=dict)
    candidates: list[int] = field(default_factory=list)
    candidate_states: Counter[str] = field(default_factory=Counter)
    deliveries: int = 0
    emails: int = 0
    uploads: int = 0
    entries: int = 0
    access_log: int = 0

    @property
    def empty(self) -> bool:
        return not (
            self.notices
            or self.to_letter
            or self.anonymise
            or any(self.finance.values())
            or self.candidates
            or self.deliveries
            or self.emails
            or self.uploads
            or self.entries
            or self.access_log
        )

    def digest(self) -> str:
        """What the federal office saw and confirmed; apply() refuses any other plan."""
        text = repr(
            (
                self.on,
                sorted(n.member_id for n in self.notices),
                sorted(self.anonymise),
                sorted(self.to_letter),
                sorted(self.finance.items()),
                sorted(self.candidates),
                self.deliveries,
                self.emails,
                self.uploads,
                self.entries,
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
        if self.entries:
            out.append(
                (
                    str(ErasureLog.Kind.ENTRY.label),
                    _("rejected"),
                    _("applicant's details removed"),
                    self.entries,
                )
            )
        if self.uploads:
            out.append(
                (str(ErasureLog.Kind.UPLOADS.label), _("member lists"), _("deleted"), self.uploads)
            )
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
    "bank_files": gettext_lazy("bank statement files"),
    "debit_files": gettext_lazy("direct debit files"),
    "statement_files": gettext_lazy("monthly statement workbooks"),
    "switchover_files": gettext_lazy("the switch-over's register file"),
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


def open_holds() -> QuerySet[LegalHold]:
    """Holds not lifted (a lifting date still ahead keeps the hold until then)."""
    today = timezone.localdate()
    return LegalHold.objects.filter(Q(lifted_on__isnull=True) | Q(lifted_on__gt=today))


def protected() -> Q:
    """Members retention must leave alone for now: a hold, or something running."""
    return Q(Exists(open_holds().filter(member=OuterRef("pk")))) | disputed()


def plan(on: date | None = None) -> Plan:
    """The dry run: everything a run on `on` would do, per kind and state. Writes nothing."""
    on = on or timezone.localdate()
    result = Plan(on=on)
    notice_months = relativedelta(months=settings.MUSTERROLLE_RETENTION_NOTICE_MONTHS)
    keep = relativedelta(months=months("register"))
    holds = open_holds().filter(member=OuterRef("pk"))
    rows = (
        _ended_members(on)
        .annotate(
            hold=Exists(holds.filter(kind=LegalHold.Kind.HOLD)),
            dispute=ExpressionWrapper(
                Q(Exists(holds.filter(kind=LegalHold.Kind.DISPUTE))) | disputed(),
                output_field=BooleanField(),
            ),
            notice=F("retention_notice__id"),
            notice_due=F("retention_notice__due_on"),
            notice_sent=F("retention_notice__sent_on"),
            notice_channel=F("retention_notice__channel"),
            # An address that bounced or complained is told on paper.
            blocked=Exists(Suppression.objects.filter(email=Lower(OuterRef("email")))),
        )
        .values_list(
            "pk",
            "state_id",
            "left_on",
            "balance",
            "email",
            "hold",
            "dispute",
            "notice",
            "notice_due",
            "notice_sent",
            "notice_channel",
            "blocked",
        )
        .order_by()
    )
    for row in rows.iterator(chunk_size=5000):
        (
            pk,
            state_id,
            left_on,
            balance,
            email,
            hold,
            dispute,
            notice,
            due,
            sent,
            channel,
            blocked,
        ) = row
        if sent is not None and sent < left_on:
            notice = None  # told about an earlier membership: they rejoined and left again
        if hold:
            result.held_back["hold"] += 1
        elif dispute:
            result.held_back["dispute"] += 1
        elif balance:
            result.held_back["balance"] += 1
        elif notice is None:
            by_mail = bool(email) and not blocked
            result.notices.append(
                Notice(
                    member_id=pk,
                    state_id=state_id,
                    # A letter's period runs from the day it was posted (letters_posted).
                    due_on=max(left_on + keep, on + notice_months) if by_mail else None,
                    channel=RetentionNotice.Channel.EMAIL
                    if by_mail
                    else RetentionNotice.Channel.LETTER,
                )
            )
        elif due is None:
            result.waiting["letter"] += 1  # the letter is not posted yet
        elif channel == RetentionNotice.Channel.EMAIL and (blocked or not email) and due > on:
            # The notice e-mail bounced (or the address is gone): a letter is owed instead.
            result.to_letter.append(pk)
            result.waiting["letter"] += 1
        elif due <= on and left_on + keep <= on:
            result.anonymise.append(pk)
            result.anonymise_states[state_id] += 1
        else:
            result.waiting[max(due, left_on + keep).isoformat()[:7]] += 1
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
    result.emails = len(_emails(on))
    result.uploads = _uploads(on).count()
    result.entries = _rejected_entries(on).count()
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
        # The files behind the bookings: bank statements, direct debit files, the monthly
        # statements' workbooks and the switch-over's register, each ten years.
        "bank_files": BankUpload.objects.filter(uploaded_at__lt=_midnight(before)).exclude(
            content=b""
        ),
        "debit_files": Collection.objects.filter(due_on__lt=before).exclude(file_gz=b""),
        "statement_files": MonthlyStatement.objects.filter(period__lt=before).exclude(workbook=b""),
        "switchover_files": Switchover.objects.filter(cutover_on__lt=before).exclude(content=b""),
    }


def _candidates(on: date) -> QuerySet[Candidate]:
    return Candidate.objects.filter(
        state__in=ENDED_CANDIDATES,
        updated_at__lt=_midnight(on - relativedelta(months=months("candidates"))),
    )


def _deliveries(on: date) -> QuerySet[Delivery]:
    before = _midnight(on - relativedelta(months=months("deliveries")))
    old = Mailing.objects.filter(finished_at__lt=before)
    return (
        Delivery.objects.filter(mailing__in=old.values("pk"))
        .filter(Q(member__isnull=False) | ~Q(email=""))
        .exclude(member__in=Member.objects.filter(protected()).values("pk"))
    )


def _protected_addresses() -> set[str]:
    return {
        email.lower()
        for email in Member.objects.filter(protected())
        .exclude(email="")
        .values_list("email", flat=True)
    }


def _emails(on: date) -> list[int]:
    """Sent e-mails past the period, but for those to a member under a hold or with
    something running (they may be evidence)."""
    before = _midnight(on - relativedelta(months=months("deliveries")))
    kept = _protected_addresses()
    return [
        pk
        for pk, to in OutboundEmail.objects.filter(
            created_at__lt=before,
            status__in=[OutboundEmail.Status.SENT, OutboundEmail.Status.FAILED],
        )
        .values_list("pk", "to")
        .iterator(chunk_size=5000)
        if not kept & {address.lower() for address in to}
    ]


def _rejected_entries(on: date) -> QuerySet[ChangeRequest]:
    """Entry requests that were turned down: nobody became a member; the applicant's
    details go after the candidates' period, the request's fact stays."""
    before = _midnight(on - relativedelta(months=months("candidates")))
    return ChangeRequest.objects.filter(
        kind=RequestKind.ENTRY,
        status=RequestStatus.REJECTED,
        member__isnull=True,
        decided_at__lt=before,
    ).exclude(proposed={}, base={}, note="", rejection_reason="")


def _uploads(on: date) -> QuerySet[ImportBatch]:
    """Member lists that boards uploaded: the file and its cells go, the counts stay."""
    before = _midnight(on - relativedelta(months=months("uploads")))
    done = [ImportBatch.Status.APPLIED, ImportBatch.Status.DISCARDED, ImportBatch.Status.FAILED]
    return ImportBatch.objects.filter(uploaded_at__lt=before, status__in=done).exclude(
        content=b"", cells={}, report=[], findings={}
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
    uploads: int = 0
    entries: int = 0
    access_log: int = 0


def send_notices(notices: list[Notice], on: date) -> int:
    """Tell each member once (the one-to-one row is the guard); returns how many were told.
    Letters are only put on the letter list: their period starts when they are posted."""
    told = 0
    for start in range(0, len(notices), BATCH):
        batch = {n.member_id: n for n in notices[start : start + BATCH]}
        with transaction.atomic():
            # A notice about an earlier membership (they rejoined since) is replaced.
            RetentionNotice.objects.filter(
                member_id__in=batch, sent_on__lt=F("member__left_on")
            ).delete()
            already = set(
                RetentionNotice.objects.filter(member_id__in=batch).values_list(
                    "member_id", flat=True
                )
            )
            fresh = [n for pk, n in batch.items() if pk not in already]
            RetentionNotice.objects.bulk_create(
                [
                    RetentionNotice(
                        member_id=n.member_id,
                        sent_on=on if n.channel == RetentionNotice.Channel.EMAIL else None,
                        due_on=n.due_on,
                        channel=n.channel,
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


def owe_letters(member_ids: list[int]) -> int:
    """Their notice e-mail bounced: they go on the letter list, the period starts again."""
    return RetentionNotice.objects.filter(member__in=member_ids).update(
        channel=RetentionNotice.Channel.LETTER, sent_on=None, due_on=None, listed_on=None
    )


def letters() -> QuerySet[Member]:
    """Members to be told by letter (no usable e-mail address) whose letter is not posted."""
    return (
        Member.objects.filter(
            retention_notice__channel=RetentionNotice.Channel.LETTER,
            retention_notice__sent_on__isnull=True,
            anonymised_on__isnull=True,
        )
        .select_related("retention_notice")
        .order_by("postal_code", "last_name", "pk")
    )


def list_letters(on: date) -> QuerySet[Member]:
    """The letter list as it is downloaded: its members are marked as listed, and only
    listed letters can be recorded as posted (one added later waits for the next list)."""
    RetentionNotice.objects.filter(
        member__in=letters().values("pk"), listed_on__isnull=True
    ).update(listed_on=on)
    return letters().filter(retention_notice__listed_on__isnull=False)


@transaction.atomic
def letters_posted(*, on: date, by: User | None) -> int:
    """The letters on the downloaded list went out today: their notice period starts now."""
    notices = RetentionNotice.objects.filter(
        member__in=letters().values("pk"), listed_on__isnull=False
    ).select_for_update()
    count = notices.update(
        sent_on=on,
        due_on=on + relativedelta(months=settings.MUSTERROLLE_RETENTION_NOTICE_MONTHS),
    )
    if count:
        record_audit(
            actor=by,
            action="privacy.letters_posted",
            obj=None,
            object_type="privacy.retentionnotice",
            summary=f"{count} retention notices posted as letters on {on.isoformat()}",
        )
    return count


def apply(confirmed: Plan | str, *, by: User | None = None, on: date | None = None) -> Done:
    """Carry out the plan the federal office confirmed (the plan, or its digest and day):
    the plan is made again now and must be the same, or nothing happens. Who confirmed is
    audited (nobody: the command line)."""
    if isinstance(confirmed, Plan):
        on, digest = confirmed.on, confirmed.digest()
    else:
        on, digest = on or timezone.localdate(), confirmed
    current = plan(on)
    if current.digest() != digest:
        raise PlanChanged
    record_audit(
        actor=by,
        action="privacy.retention_confirmed",
        obj=None,
        object_type="privacy.retention",
        object_id=digest,
        summary=f"Retention of {on.isoformat()} confirmed: {len(current.notices)} to tell, "
        f"{len(current.anonymise)} to anonymise",
        data={"rows": [[str(v) for v in row] for row in current.rows()]},
    )
    done = Done()
    done.told = send_notices(current.notices, on)
    owe_letters(current.to_letter)
    copies = _copies_to(current.anonymise)
    for start in range(0, len(current.anonymise), BATCH):
        done.anonymised += anonymise(current.anonymise[start : start + BATCH], on, copies)
    done.finance = scrub_finance(on)
    done.candidates = delete_candidates(current.candidates, on)
    done.deliveries, done.emails = forget_deliveries(on)
    done.uploads = forget_uploads(on)
    done.entries = forget_rejected_entries(on)
    done.access_log = prune_access_log(on)
    return done


def _copies_to(ids: list[int]) -> dict[str, list[int]]:
    """The sent e-mails to these members' addresses, by address (one pass over the outbox),
    leaving out addresses that someone else in the register still uses (a family's)."""
    if not ids:
        return {}
    addresses: set[str] = set()
    for start in range(0, len(ids), 10_000):
        addresses |= {
            e.lower()
            for e in Member.objects.filter(pk__in=ids[start : start + 10_000])
            .exclude(email="")
            .values_list("email", flat=True)
        }
    shared = {
        e.lower()
        for e in Member.objects.filter(anonymised_on__isnull=True)
        .exclude(pk__in=ids)
        .annotate(address=Upper("email"))
        .filter(address__in={a.upper() for a in addresses})
        .values_list("address", flat=True)
    }
    addresses -= shared
    copies: dict[str, list[int]] = {}
    if addresses:
        emails = OutboundEmail.objects.exclude(status=OutboundEmail.Status.QUEUED)
        for pk, to in emails.values_list("pk", "to").iterator(chunk_size=5000):
            for address in {a.lower() for a in to} & addresses:
                copies.setdefault(address, []).append(pk)
    return copies


@transaction.atomic
def anonymise(ids: list[int], on: date, copies: dict[str, list[int]] | None = None) -> int:
    """Remove the persons of these members; their rows, periods and bookings stay. Members
    who are current again, owe or are held are left alone (checked again under lock)."""
    members = list(
        Member.objects.select_for_update()
        .filter(pk__in=ids, status=MemberStatus.ENDED, anonymised_on__isnull=True, balance=0)
        .exclude(protected())
        .order_by("pk")
    )
    if not members:
        return 0
    pks = [m.pk for m in members]
    copies = copies if copies is not None else _copies_to(pks)
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
    versions = list(
        MemberVersion.objects.filter(member_id__in=pks).only("values", "changes", "reason")
    )
    for version in versions:
        version.values = _scrubbed(version.values)
        version.changes = _scrubbed(version.changes)
        version.reason = ""
    MemberVersion.objects.bulk_update(versions, ["values", "changes", "reason"], batch_size=BATCH)
    requests = list(
        ChangeRequest.objects.filter(member_id__in=pks).only(
            "proposed", "base", "note", "rejection_reason"
        )
    )
    for request in requests:
        request.proposed = _scrubbed(request.proposed)
        request.base = _scrubbed(request.base)
        request.note = request.rejection_reason = ""
    ChangeRequest.objects.bulk_update(
        requests, ["proposed", "base", "note", "rejection_reason"], batch_size=BATCH
    )
    strike_offs = list(StrikeOff.objects.filter(member_id__in=pks).values_list("pk", flat=True))
    StrikeOff.objects.filter(pk__in=strike_offs).update(note="")
    # The audit lines and the admin's history of these records name the person (and a
    # change request's carry the proposed address): the action and the date stay.
    records = {
        "members.member": [str(pk) for pk in pks],
        "members.changerequest": [str(r.pk) for r in requests],
        "finance.strikeoff": [str(pk) for pk in strike_offs],
    }
    about = Q(pk__in=[])
    for object_type, object_ids in records.items():
        about |= Q(object_type=object_type, object_id__in=object_ids)
    AuditEntry.objects.filter(about).update(summary=F("action"), data={})
    for label, object_ids in records.items():
        LogEntry.objects.filter(
            content_type=ContentType.objects.get_by_natural_key(*label.split(".")),
            object_id__in=object_ids,
        ).update(object_repr="", change_message="")
    Delivery.objects.filter(member_id__in=pks).update(email="")
    LegalHold.objects.filter(member_id__in=pks).update(reason="")
    # Only what went to nobody else: not to an address someone still uses (a family member
    # left out of this batch, an account, a running candidacy), not to other recipients too.
    addresses = {m.email.lower() for m in members if m.email} - _addresses_in_use(
        {m.email.lower() for m in members if m.email}
    )
    own = [pk for address in addresses for pk in copies.get(address, [])]
    for start in range(0, len(own), BATCH):
        for pk, to in OutboundEmail.objects.filter(pk__in=own[start : start + BATCH]).values_list(
            "pk", "to"
        ):
            if {a.lower() for a in to} <= addresses:
                OutboundEmail.objects.filter(pk=pk).delete()
    for account in _accounts_to_close(
        {m.email.lower() for m in members if m.email} - _addresses_in_use_by_members(addresses),
        on,
    ):
        erase_account(account)
    ErasureLog.objects.bulk_create(
        [
            ErasureLog(number=str(m.membership_number), done_on=on, kind=ErasureLog.Kind.REGISTER)
            for m in members
        ]
    )
    return len(members)


def _addresses_in_use_by_members(addresses: set[str]) -> set[str]:
    """Of these (lower-case) addresses, those a member not anonymised still has (found by
    the index on UPPER(email))."""
    if not addresses:
        return set()
    return {
        address.lower()
        for address in Member.objects.filter(anonymised_on__isnull=True)
        .annotate(address=Upper("email"))
        .filter(address__in={a.upper() for a in addresses})
        .values_list("address", flat=True)
    }


def _addresses_in_use(addresses: set[str]) -> set[str]:
    """Of these addresses, those someone still uses: a member not anonymised, a login
    account with work to do, a candidate whose onboarding runs."""
    if not addresses:
        return set()
    busy = {account.email.lower() for account in _busy_accounts(addresses)}
    candidates = set(
        Candidate.objects.exclude(state__in=ENDED_CANDIDATES)
        .annotate(address=Lower("email"))
        .filter(address__in=addresses)
        .values_list("address", flat=True)
    )
    return _addresses_in_use_by_members(addresses) | busy | candidates


def _busy_accounts(addresses: set[str]) -> QuerySet[User]:
    today = timezone.localdate()
    roles = RoleAssignment.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=today),
        user=OuterRef("pk"),
        revoked_at__isnull=True,
    )
    return (
        User.objects.annotate(address=Lower("email"))
        .filter(address__in=addresses)
        .filter(
            Q(is_staff=True)
            | Q(is_superuser=True)
            | Q(Exists(roles))
            | Q(Exists(CircleMembership.objects.filter(user=OuterRef("pk"), ended_on__isnull=True)))
            | Q(
                Exists(
                    Candidate.objects.filter(user=OuterRef("pk")).exclude(
                        state__in=ENDED_CANDIDATES
                    )
                )
            )
            | Q(Exists(Mediation.parties.through.objects.filter(user=OuterRef("pk"))))
            | Q(Exists(Mediation.mediators.through.objects.filter(user=OuterRef("pk"))))
        )
    )


def _accounts_to_close(addresses: set[str], on: date) -> list[User]:
    """Login accounts of these addresses that nobody uses for party work any more: no staff
    status, no role now or to come, no circle membership, candidacy or mediation."""
    if not addresses:
        return []
    busy = _busy_accounts(addresses).values("pk")
    return list(
        User.objects.annotate(address=Lower("email"))
        .filter(address__in=addresses)
        .exclude(pk__in=busy)
    )


def erase_account(account: User) -> None:
    """A login account made unusable and nameless; the row stays for what it did."""
    EmailAddress.objects.filter(user=account).delete()
    Authenticator.objects.filter(user=account).delete()
    roles = [
        str(pk) for pk in RoleAssignment.objects.filter(user=account).values_list("pk", flat=True)
    ]
    AuditEntry.objects.filter(
        Q(object_type="members.user", object_id=str(account.pk))
        | Q(object_type="members.roleassignment", object_id__in=roles)
    ).update(summary=F("action"), data={})
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(User), object_id=str(account.pk)
    ).update(object_repr="", change_message="")
    account.email = f"geloescht-{account.pk}@invalid"
    account.first_name = account.last_name = ""
    account.is_active = False
    account.set_unusable_password()
    account.save()


def _scrubbed(values: dict) -> dict:
    return {
        key: (None if key == "date_of_birth" else "") if key in PERSONAL_FIELDS else value
        for key, value in (values or {}).items()
    }


@transaction.atomic
def scrub_finance(on: date) -> int:
    records = finance_records(on)
    count = 0
    count += records["payments"].update(counterparty_name="", counterparty_iban="")
    count += records["mandates"].update(holder="", iban="", bic="")
    count += records["receipts"].update(address=[])
    count += records["opening_balances"].update(iban="")
    count += records["bank_files"].update(content=b"")
    count += records["debit_files"].update(file_gz=b"")
    count += records["statement_files"].update(workbook=b"")
    count += records["switchover_files"].update(content=b"", values={})
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
    old = _emails(on)
    emails = 0
    for start in range(0, len(old), BATCH):
        emails += OutboundEmail.objects.filter(pk__in=old[start : start + BATCH]).delete()[0]
    if deliveries or emails:
        ErasureLog.objects.create(
            done_on=on, kind=ErasureLog.Kind.DELIVERIES, count=deliveries + emails
        )
    return deliveries, emails


@transaction.atomic
def forget_rejected_entries(on: date) -> int:
    ids = list(_rejected_entries(on).values_list("pk", flat=True))
    ChangeRequest.objects.filter(pk__in=ids).update(
        proposed={}, base={}, note="", rejection_reason=""
    )
    AuditEntry.objects.filter(
        object_type="members.changerequest", object_id__in=[str(pk) for pk in ids]
    ).update(summary=F("action"), data={})
    if ids:
        ErasureLog.objects.create(done_on=on, kind=ErasureLog.Kind.ENTRY, count=len(ids))
    return len(ids)


@transaction.atomic
def forget_uploads(on: date) -> int:
    count = _uploads(on).update(content=b"", cells={}, report=[], findings={}, header=[])
    if count:
        ErasureLog.objects.create(done_on=on, kind=ErasureLog.Kind.UPLOADS, count=count)
    return count


@transaction.atomic
def prune_access_log(on: date) -> int:
    deleted, _ = _access_log(on).delete()
    if deleted:
        ErasureLog.objects.create(done_on=on, kind=ErasureLog.Kind.ACCESS_LOG, count=deleted)
    return deleted


def monthly(on: date | None = None) -> Plan:
    """The scheduled job: the access log past its period goes, members due are told, and
    the federal office is asked to confirm what would be erased. Nothing else is erased."""
    on = on or timezone.localdate()
    prune_access_log(on)
    current = plan(on)
    send_notices(current.notices, on)
    owe_letters(current.to_letter)
    current = plan(on)
    if not current.empty:
        to = [person.email for person in need_to_know.federal_office()]
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
