"""The answer to a member's access request (GDPR Art. 15): everything held about them.

`collect(member)` gathers one section per kind of record, from every app; `as_json`,
`as_html` and `as_pdf` write it out. `COVERED` names every field by which a record belongs
to a member or to their login account; `ACTORS` the fields that only say which member of
staff did something. tests/privacy/test_subject_access.py fails for any model holding a
member or an account through a field in neither: a new model holding member data is not
forgotten here.

Other people's confidential notes about the member (coordinators' notes on a candidate,
other circle members' reasons for a veto, a mediation's notes) are withheld; the report
says that something was withheld and why (Art. 15(4): the rights of others).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Model, Q
from django.template.loader import render_to_string
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from assemblies.models import Attendance, Ballot, Entry
from finance.models import (
    Charge,
    ContributionReceipt,
    Debit,
    Mandate,
    OpeningBalance,
    Payment,
    ReductionNotice,
    Reminder,
    StrikeOff,
)
from mailings.models import Delivery, Suppression
from members import access_log
from members.models import (
    AccessKind,
    AuditEntry,
    Division,
    Member,
    RoleAssignment,
    User,
)
from onboarding.models import (
    Candidate,
    ChannelAccess,
    CircleMembership,
    Mediation,
    Removal,
    Response,
)
from outbox.models import OutboundEmail
from privacy.models import LegalHold, RetentionNotice

Row = dict[str, Any]


@dataclass
class Section:
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    withheld: str = ""


@dataclass
class Report:
    member: Member
    account: User | None
    made_at: datetime
    sections: list[Section]

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def account_of(member: Member) -> User | None:
    """The member's login account: the one with their e-mail address, if no other member
    shares the address (a family's shared address says nothing about whose account it is)."""
    if not member.email or _shared(member):
        return None
    return User.objects.filter(email__iexact=member.email).first()


def _shared(member: Member) -> bool:
    """Whether another member (not anonymised) has the same address; asked once a report."""
    if not hasattr(member, "_shared_address"):
        member._shared_address = (  # type: ignore[attr-defined]
            bool(member.email)
            and Member.objects.filter(email__iexact=member.email, anonymised_on__isnull=True)
            .exclude(pk=member.pk)
            .exists()
        )
    return member._shared_address  # type: ignore[attr-defined]


def _who(user: User | None) -> str:
    if user is None:
        return _("the system")
    return user.get_full_name() or user.email


def _values(obj: Model, names: Iterable[str]) -> Row:
    row: Row = {}
    for name in names:
        field_ = obj._meta.get_field(name)
        value = getattr(obj, name)
        if getattr(field_, "choices", None):
            value = getattr(obj, f"get_{name}_display")()
        elif isinstance(value, Model):
            value = str(value)
        row[str(field_.verbose_name)] = value
    return row


# --- The sections, one per kind of record -------------------------------------------------

REGISTER_FIELDS = [
    "membership_number",
    "first_name",
    "last_name",
    "email",
    "phone",
    "street",
    "postal_code",
    "city",
    "country",
    "date_of_birth",
    "division",
    "status",
    "end_reason",
    "joined_on",
    "left_on",
    "active_since",
    "fee_class",
    "dues_tier",
    "reduced_until",
    "newsletter_consent",
    "balance",
    "payment_status",
    "arrears_since",
    "anonymised_on",
    "created_at",
    "updated_at",
]


def _record(member: Member, account: User | None) -> Section:
    return Section("record", _("Register record"), [_values(member, REGISTER_FIELDS)])


def _labelled(values: dict[str, Any]) -> dict[str, Any]:
    """A version's values under the labels the record uses ("Vorname", not first_name)."""
    labels = {f.attname: str(f.verbose_name) for f in Member._meta.concrete_fields}
    labels |= {f.name: str(f.verbose_name) for f in Member._meta.concrete_fields}
    out = {}
    for key, value in (values or {}).items():
        if key in ("division_id", "division", "state_id", "state") and value:
            ids = value if isinstance(value, list) else [value]
            names = dict(Division.objects.filter(pk__in=ids).values_list("pk", "name"))
            value = (
                [names.get(i, i) for i in ids]
                if isinstance(value, list)
                else names.get(value, value)
            )
        out[labels.get(key, key)] = value
    return out


def _versions(member: Member, account: User | None) -> Section:
    rows = [
        {
            _("version"): v.version,
            _("recorded at"): v.recorded_at,
            _("by"): _who(v.recorded_by),
            _("reason"): v.reason,
            _("changes"): _labelled(v.changes or v.values),
        }
        for v in member.versions.select_related("recorded_by").order_by("version")
    ]
    return Section("versions", _("Versions of the record, with who changed it"), rows)


def _memberships(member: Member, account: User | None) -> Section:
    rows = [
        _values(p, ["division", "started_on", "start_kind", "ended_on", "end_kind"])
        for p in member.periods.select_related("division").order_by("started_on", "pk")
    ]
    return Section("memberships", _("Memberships"), rows)


def _roles(member: Member, account: User | None) -> Section:
    rows = []
    if account is not None:
        rows = [
            _values(r, ["role", "division", "valid_from", "valid_until"])
            | {_("granted by"): _who(r.granted_by)}
            for r in RoleAssignment.objects.filter(user=account)
            .select_related("division", "granted_by")
            .order_by("valid_from", "pk")
        ]
    return Section("roles", _("Roles"), rows)


def _account(member: Member, account: User | None) -> Section:
    if account is None:
        section = Section("account", _("Login account"))
        if member.email and _shared(member):
            section.withheld = str(SHARED_ADDRESS)
        return section
    row = _values(account, ["email", "first_name", "last_name", "date_joined", "last_login"])
    row[_("second factors")] = ", ".join(
        a.get_type_display() for a in Authenticator.objects.filter(user=account).order_by("pk")
    )
    row[_("confirmed addresses")] = ", ".join(
        e.email for e in EmailAddress.objects.filter(user=account, verified=True)
    )
    return Section("account", _("Login account"), [row])


def _change_requests(member: Member, account: User | None) -> Section:
    rows = [
        _values(r, ["kind", "status", "requested_at", "effective_on", "decided_at"])
        | {
            _("requested by"): _who(r.requested_by),
            _("proposed"): _labelled(r.proposed),
            _("note"): r.note,
            _("reason for a rejection"): r.rejection_reason,
        }
        for r in member.change_requests.select_related("requested_by").order_by("requested_at")
    ]
    return Section("change_requests", _("Change requests"), rows)


def _charges(member: Member, account: User | None) -> Section:
    rows = [
        _values(c, ["year", "kind", "amount", "due_on", "memo"])
        for c in Charge.objects.filter(member=member).order_by("due_on", "pk")
    ]
    return Section("charges", _("Charges (dues and fees)"), rows)


PAYMENT_FIELDS = ["booked_on", "amount", "method", "purpose", "reference", "return_reason"]
PAYER_FIELDS = ["counterparty_name", "counterparty_iban"]


def _payments(member: Member, account: User | None) -> Section:
    rows = []
    for p in Payment.objects.filter(Q(member=member) | Q(suggested_member=member)).order_by(
        "booked_on", "pk"
    ):
        if p.member_id == member.pk:
            rows.append(_values(p, PAYMENT_FIELDS + PAYER_FIELDS) | {_("match"): p.proposal})
        else:
            # Only suggested as theirs: the payer may be someone else, who wrote the purpose;
            # only the day and the amount are shown.
            rows.append(
                _values(p, ["booked_on", "amount"]) | {_("status"): _("suggested as yours")}
            )
    return Section("payments", _("Payments"), rows)


def _reminders(member: Member, account: User | None) -> Section:
    rows = [
        _values(r, ["level", "sent_on", "amount", "channel", "arrears_since"])
        for r in Reminder.objects.filter(member=member).order_by("sent_on", "level")
    ]
    rows += [
        _values(s, ["status", "proposed_on", "decided_on", "objection_until", "note"])
        for s in StrikeOff.objects.filter(member=member).order_by("proposed_on")
    ]
    rows += [
        _values(n, ["reduced_until", "sent_on"])
        for n in ReductionNotice.objects.filter(member=member).order_by("sent_on")
    ]
    return Section("reminders", _("Reminders, strike-offs and notices"), rows)


def _mandates(member: Member, account: User | None) -> Section:
    rows = [
        _values(
            m,
            [
                "reference",
                "signed_on",
                "holder",
                "iban",
                "monthly",
                "revoked_on",
                "last_collected_on",
            ],
        )
        for m in Mandate.objects.filter(member=member).order_by("signed_on", "pk")
    ]
    rows += [
        _values(d, ["year", "month", "amount", "sequence", "returned_on", "return_reason"])
        for d in Debit.objects.filter(member=member).order_by("year", "month", "pk")
    ]
    rows += [
        _values(o, ["on", "balance", "iban"])
        for o in OpeningBalance.objects.filter(member=member).order_by("on")
    ]
    return Section("mandates", _("Direct debit mandates, debits and opening balances"), rows)


def _receipts(member: Member, account: User | None) -> Section:
    rows = [
        _values(
            r, ["number", "year", "issued_on", "dues", "donations", "channel", "address", "lines"]
        )
        for r in ContributionReceipt.objects.filter(member=member).order_by("issued_on", "pk")
    ]
    return Section("receipts", _("Contribution receipts"), rows)


def _mailings(member: Member, account: User | None) -> Section:
    rows = [
        {
            _("mailing"): d.mailing.subject,
            _("sender"): d.mailing.sender_name,
            _("e-mail"): d.email,
            _("status"): d.get_status_display(),
            _("sent at"): d.sent_at,
        }
        for d in Delivery.objects.filter(member=member)
        .select_related("mailing")
        .order_by("sent_at", "pk")
    ]
    return Section("mailings", _("Mailings received"), rows)


def _emails(member: Member, account: User | None) -> Section:
    if member.email and _shared(member):
        # What went to a family's shared address may have been for another member.
        return Section(
            "emails", _("E-mails sent and addresses blocked"), withheld=str(SHARED_ADDRESS)
        )
    addresses = {a.lower() for a in [member.email, account.email if account else ""] if a}
    rows: list[Row] = []
    if addresses:
        emails = OutboundEmail.objects.filter(
            Q(pk__in=[]) | _any_address("to__icontains", addresses)
        ).order_by("created_at", "pk")
        rows = [
            {
                _("subject"): e.subject,
                _("to"): ", ".join(e.to),
                _("status"): e.get_status_display(),
                _("created at"): e.created_at,
                _("sent at"): e.sent_at,
            }
            for e in emails
            if addresses & {t.lower() for t in e.to}
        ]
        rows += [
            _values(s, ["email", "reason", "created_at"])
            for s in Suppression.objects.filter(email__in=addresses)
        ]
    return Section("emails", _("E-mails sent and addresses blocked"), rows)


def _any_address(lookup: str, addresses: set[str]) -> Q:
    q = Q(pk__in=[])
    for address in addresses:
        q |= Q(**{lookup: address})
    return q


def _consents(member: Member, account: User | None) -> Section:
    rows: list[Row] = [{_("newsletter consent"): member.newsletter_consent, _("since"): None}]
    for v in member.versions.select_related("recorded_by").order_by("version"):
        if "newsletter_consent" in (v.changes or {}) or v.version == 1:
            value = (v.values or {}).get("newsletter_consent")
            rows.append(
                {
                    _("newsletter consent"): value,
                    _("since"): v.recorded_at,
                    _("by"): _who(v.recorded_by),
                    _("reason"): v.reason,
                }
            )
    if len(rows) > 1:
        rows[0][_("since")] = rows[-1][_("since")]
    return Section("consents", _("Consents and their history"), rows)


SHARED_ADDRESS = gettext_lazy(
    "Other members use the same e-mail address as you. A login account or an onboarding "
    "record under that address may be another person's and is not shown here; ask us if "
    "one of them is yours."
)
WITHHELD_NOTES = gettext_lazy(
    "Notes that coordinators, mediators or other circle members wrote about you are "
    "withheld: they are their confidential assessments, and disclosing them would affect "
    "their rights (Art. 15(4) GDPR). That such notes exist is stated here."
)


def _onboarding(member: Member, account: User | None) -> Section:
    section = Section("onboarding", _("Onboarding in the network's circles"))
    who = Q(email__iexact=member.email) if member.email and not _shared(member) else Q(pk__in=[])
    if account is not None:
        who |= Q(user=account)
    withheld = 0
    for candidate in Candidate.objects.filter(who).select_related("circle").order_by("pk"):
        row = _values(
            candidate,
            [
                "circle",
                "first_name",
                "last_name",
                "email",
                "phone",
                "found_via",
                "state",
                "veto_opened_on",
                "veto_ends_on",
                "admitted_on",
                "created_at",
            ],
        )
        row[_("get-to-know meetings")] = [m.held_on for m in candidate.meetings.order_by("held_on")]
        answers = list(candidate.responses.all())
        row[_("answers in the veto period")] = len(answers)
        row[_("vetoes")] = sum(1 for a in answers if a.veto)
        withheld += bool(candidate.notes) + sum(bool(m.note) for m in candidate.meetings.all())
        withheld += sum(bool(a.reason) for a in answers if a.member_id != getattr(account, "pk", 0))
        section.rows.append(row)
    if account is not None:
        section.rows += [
            _values(c, ["circle", "role", "joined_on", "ended_on", "removed"])
            for c in CircleMembership.objects.filter(user=account).select_related("circle")
        ]
        section.rows += [
            _values(r, ["candidate", "veto", "reason", "answered_at"])
            for r in Response.objects.filter(member=account).select_related("candidate")
        ]
        section.rows += [
            _values(a, ["channel", "action", "requested_at", "done_at"])
            for a in ChannelAccess.objects.filter(user=account).select_related("channel")
        ]
        for mediation in Mediation.objects.filter(
            Q(parties=account) | Q(mediators=account)
        ).distinct():
            sessions = list(mediation.sessions.order_by("held_on"))
            section.rows.append(
                _values(mediation, ["circle", "subject", "opened_at", "closed_at"])
                | {
                    _("sessions"): [
                        f"{s.held_on.isoformat()} {s.get_outcome_display()}" for s in sessions
                    ]
                }
            )
            withheld += sum(bool(s.notes) for s in sessions)
        removals = list(Removal.objects.filter(user=account).select_related("circle"))
        section.rows += [_values(r, ["circle", "decided_on"]) for r in removals]
        withheld += sum(bool(r.reason) for r in removals)  # the circle's assessment
    if withheld:
        section.withheld = str(WITHHELD_NOTES)
    return section


def _assemblies(member: Member, account: User | None) -> Section:
    rows: list[Row] = [
        {
            _("assembly"): e.assembly.title,
            _("cut-off date"): e.assembly.cutoff_on,
            _("eligible"): e.reason == "",
            _("reason"): e.get_reason_display() if e.reason else "",
        }
        for e in Entry.objects.filter(member=member).select_related("assembly")
    ]
    rows += [
        {
            _("assembly"): b.assembly.title,
            _("postal ballot"): b.number,
            _("returned"): b.returned_at,
        }
        for b in Ballot.objects.filter(member=member).select_related("assembly")
    ]
    rows += [
        {_("assembly"): a.assembly.title, _("checked in at"): a.checked_in_at}
        for a in Attendance.objects.filter(member=member).select_related("assembly")
    ]
    return Section("assemblies", _("Assemblies: voting rights, postal vote, attendance"), rows)


def _access(member: Member, account: User | None) -> Section:
    rows = [
        {
            _("at"): entry.at,
            _("who"): _who(entry.user),
            _("how"): entry.get_kind_display(),
            _("purpose"): entry.detail if entry.kind == AccessKind.EXPORT else "",
        }
        for entry in access_log.about(member).select_related("user").order_by("at", "pk")
    ]
    return Section("access_log", _("Who looked at your data"), rows)


def _history(member: Member, account: User | None) -> Section:
    """The audit lines about the member's record and requests, and the admin's history."""
    requests = [str(pk) for pk in member.change_requests.values_list("pk", flat=True)]
    about = Q(object_type="members.member", object_id=str(member.pk)) | Q(
        object_type="members.changerequest", object_id__in=requests
    )
    rows = [
        {_("at"): e.at, _("who"): _who(e.actor), _("what"): e.summary}
        for e in AuditEntry.objects.filter(about).select_related("actor").order_by("at", "pk")
    ]
    rows += [
        {_("at"): e.action_time, _("who"): _who(e.user), _("what"): e.get_change_message()}
        for e in LogEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Member), object_id=str(member.pk)
        ).select_related("user")
    ]
    return Section("history", _("Who did what with your record"), rows)


def _retention(member: Member, account: User | None) -> Section:
    rows = [
        _values(n, ["sent_on", "due_on", "channel"])
        for n in RetentionNotice.objects.filter(member=member)
    ]
    rows += [
        _values(h, ["kind", "reason", "placed_on", "lifted_on"])
        for h in LegalHold.objects.filter(member=member).order_by("placed_on")
    ]
    return Section("retention", _("Retention: notices and holds"), rows)


SECTIONS: list[Callable[[Member, User | None], Section]] = [
    _record,
    _versions,
    _memberships,
    _consents,
    _change_requests,
    _charges,
    _payments,
    _reminders,
    _mandates,
    _receipts,
    _mailings,
    _emails,
    _onboarding,
    _assemblies,
    _account,
    _roles,
    _retention,
    _history,
    _access,
]

# Every field through which a record belongs to a member or to their account, and the
# section that reports it.
COVERED: dict[str, str] = {
    "members.MemberVersion.member": "versions",
    "members.MembershipPeriod.member": "memberships",
    "members.ChangeRequest.member": "change_requests",
    "members.RoleAssignment.user": "roles",
    "members.AccessLog.member": "access_log",
    "finance.Charge.member": "charges",
    "finance.Payment.member": "payments",
    "finance.Payment.suggested_member": "payments",
    "finance.Reminder.member": "reminders",
    "finance.StrikeOff.member": "reminders",
    "finance.ReductionNotice.member": "reminders",
    "finance.Mandate.member": "mandates",
    "finance.Debit.member": "mandates",
    "finance.OpeningBalance.member": "mandates",
    "finance.ContributionReceipt.member": "receipts",
    "mailings.Delivery.member": "mailings",
    "onboarding.Candidate.user": "onboarding",
    "onboarding.CircleMembership.user": "onboarding",
    "onboarding.Response.member": "onboarding",
    "onboarding.ChannelAccess.user": "onboarding",
    "onboarding.Mediation.parties": "onboarding",
    "onboarding.Mediation.mediators": "onboarding",
    "onboarding.Removal.user": "onboarding",
    "assemblies.Entry.member": "assemblies",
    "assemblies.Ballot.member": "assemblies",
    "assemblies.Attendance.member": "assemblies",
    "account.EmailAddress.user": "account",
    "mfa.Authenticator.user": "account",
    "privacy.LegalHold.member": "retention",
    "privacy.RetentionNotice.member": "retention",
}
# Records that name a member by its id, not by a field (audit lines, the admin's history).
BY_OBJECT_ID: dict[str, str] = {
    "members.AuditEntry": "history",
    "admin.LogEntry": "history",
}
# Fields that name the member of staff who did something: their own data, not the member's.
ACTORS: set[str] = {
    "admin.LogEntry.user",
    "members.RoleAssignment.granted_by",
    "members.RoleAssignment.revoked_by",
    "members.AuditEntry.actor",
    "members.AccessLog.user",
    "members.MemberVersion.recorded_by",
    "members.ChangeRequest.requested_by",
    "members.ChangeRequest.consented_by",
    "members.ChangeRequest.decided_by",
    "members.ImportBatch.uploaded_by",
    "members.ExportLog.exported_by",
    "members.ImportValueChoice.decided_by",
    "finance.Charge.created_by",
    "finance.BankUpload.uploaded_by",
    "finance.BankStatement.uploaded_by",
    "finance.Payment.created_by",
    "finance.StrikeOff.decided_by",
    "finance.Switchover.created_by",
    "finance.Mandate.created_by",
    "finance.Collection.created_by",
    "finance.Payout.recorded_by",
    "finance.ReceiptWording.created_by",
    "finance.ReceiptRun.created_by",
    "mailings.Mailing.created_by",
    "mailings.Mailing.requested_by",
    "mailings.Mailing.released_by",
    "onboarding.Candidate.registered_by",
    "onboarding.Meeting.recorded_by",
    "onboarding.ChannelAccess.done_by",
    "onboarding.Mediation.opened_by",
    "onboarding.MediationSession.recorded_by",
    "onboarding.Removal.decided_by",
    "assemblies.Assembly.created_by",
    "assemblies.Attendance.checked_in_by",
    "privacy.LegalHold.placed_by",
}


def collect(member: Member) -> Report:
    account = account_of(member)
    with translation.override(settings.LANGUAGE_CODE):
        sections = [make(member, account) for make in SECTIONS]
    return Report(member=member, account=account, made_at=timezone.now(), sections=sections)


# --- Writing it out ------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, date):
        return formats.date_format(value, "SHORT_DATE_FORMAT")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, Decimal):
        return formats.number_format(value, 2, use_l10n=True, force_grouping=True) + " €"
    if value is None:
        return "–"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_plain(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(_plain(v)) for v in value)
    return str(value)


def as_json(report: Report) -> str:
    return json.dumps(
        {
            "membership_number": report.member.membership_number,
            "made_at": report.made_at,
            "sections": [
                {
                    "key": s.key,
                    "title": s.title,
                    "records": [{str(k): v for k, v in row.items()} for row in s.rows],
                    "withheld": s.withheld,
                }
                for s in report.sections
            ],
        },
        cls=DjangoJSONEncoder,
        ensure_ascii=False,
        indent=1,
    )


def _readable(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "title": s.title,
            "withheld": s.withheld,
            "rows": [[(str(k), _plain(v)) for k, v in row.items()] for row in s.rows],
        }
        for s in report.sections
    ]


def as_html(report: Report) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render_to_string(
            "privacy/subject_access.html",
            {
                "member": report.member,
                "made_at": report.made_at,
                "sections": _readable(report),
            },
        )


class _Writer:
    """Paragraphs onto A4 pages, wrapped at word boundaries by the widths of the words (each
    measured once): several hundred records in a fraction of what fpdf2's multi_cell takes."""

    LEFT, TOP, BOTTOM, WIDTH = 20.0, 18.0, 282.0, 170.0

    def __init__(self, pdf: Any) -> None:
        self.pdf = pdf
        self.y = self.TOP
        self.widths: dict[tuple[str, str, float], float] = {}

    def width(self, word: str) -> float:
        key = (word, self.pdf.font_style, self.pdf.font_size_pt)
        if key not in self.widths:
            self.widths[key] = self.pdf.get_string_width(word)
        return self.widths[key]

    def paragraph(self, text: str, size: float, style: str = "", gap: float = 1.0) -> None:
        from finance.letters import line

        pdf = self.pdf
        pdf.use(size, style)
        height = size * 0.5
        space = self.width(" ")
        lines: list[str] = []
        current: list[str] = []
        used = 0.0
        words: list[str] = []
        for word in pdf.text_of(text).split():
            if self.width(word) > self.WIDTH:  # a long token (a URL, a list): cut it
                piece = ""
                for char in word:
                    if piece and self.pdf.get_string_width(piece + char) > self.WIDTH:
                        words.append(piece)
                        piece = ""
                    piece += char
                words.append(piece)
            else:
                words.append(word)
        for word in words:
            w = self.width(word)
            if current and used + space + w > self.WIDTH:
                lines.append(" ".join(current))
                current, used = [], 0.0
            used += (space if current else 0.0) + w
            current.append(word)
        lines.append(" ".join(current))
        for text_line in lines:
            if self.y + height > self.BOTTOM:
                pdf.add_page()
                self.y = self.TOP
            line(pdf, self.LEFT, self.y, height, text_line)
            self.y += height
        self.y += gap


def as_pdf(report: Report) -> bytes:
    from finance.letters import Pdf

    with translation.override(settings.LANGUAGE_CODE):
        pdf = Pdf(bold=True)
        pdf.set_title(_("Information on your data"))
        pdf.set_creator("Musterrolle")
        pdf.add_page()
        out = _Writer(pdf)
        out.paragraph(
            _("Information on the data held about membership number %(number)s")
            % {"number": report.member.membership_number},
            14,
            "B",
        )
        out.paragraph(_("Made on %(when)s (Art. 15 GDPR).") % {"when": _plain(report.made_at)}, 9)
        for section in _readable(report):
            out.y += 3
            out.paragraph(section["title"], 11, "B")
            if not section["rows"]:
                out.paragraph(_("Nothing held."), 8.5)
            for row in section["rows"]:
                out.paragraph(
                    " · ".join(f"{label}: {value}" for label, value in row if value != "–"), 8.5
                )
            if section["withheld"]:
                out.paragraph(section["withheld"], 8.5, "B")
        return bytes(pdf.output())


def files(member: Member, *, by: Any = None) -> dict[str, bytes]:
    """The three files of the answer, named by the membership number; logged as an access."""
    report = collect(member)
    access_log.record(by, AccessKind.REPORT, path="subject_access", member=member, detail="Art. 15")
    stem = f"auskunft-{member.membership_number}"
    return {
        f"{stem}.json": as_json(report).encode(),
        f"{stem}.html": as_html(report).encode(),
        f"{stem}.pdf": as_pdf(report),
    }
