"""Mailings from a division to its members: audience, composing, release and sending.

Who may do what is asked of `members.access` only. The audience is always the mailing
division's subtree, further narrowed by the access rule for the acting user, so neither a
crafted filter nor a foreign division id can reach a member outside the sender's scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Case, Count, Exists, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from mailings import content
from mailings.models import AudienceFigure, Delivery, Mailing, MailingSettings, Suppression
from members import access
from members.access import Action
from members.models import Division, FeeClass, Member, PaymentStatus, User
from members.services import record_audit
from ops import dispatch
from outbox import services as outbox

AUDIENCE_KEYS = ("divisions", "payment_statuses", "fee_classes")


# --- Audience ---------------------------------------------------------------------------


def release_required(division: Division) -> bool:
    """The division or any division above it asks for a second board member's release."""
    return MailingSettings.objects.filter(
        division__path__in=division.ancestor_paths(), release_required=True
    ).exists()


# Audiences the apps built on mailings define (an assembly's eligible members): the key in
# `Mailing.audience` and what narrows the division's members to them (members, not
# mailings, decide who is in a division; the app decides who of them is meant).
Narrowing = Callable[[Division, Any], Q]
_AUDIENCES: dict[str, Narrowing] = {}


def register_audience(key: str, narrowing: Narrowing) -> None:
    _AUDIENCES[key] = narrowing


def registered_audiences() -> list[str]:
    return list(_AUDIENCES)


def clean_audience(division: Division, audience: dict[str, Any]) -> dict[str, Any]:
    """Keep only filters that make sense for this division; raise on anything foreign."""
    divisions = sorted({int(pk) for pk in audience.get("divisions") or []})
    if divisions:
        inside = set(
            Division.objects.filter(pk__in=divisions, path__startswith=division.path).values_list(
                "pk", flat=True
            )
        )
        if inside != set(divisions):
            raise ValidationError(_("Choose only divisions inside %s.") % division.name)
    statuses = sorted(set(audience.get("payment_statuses") or []))
    if set(statuses) - set(PaymentStatus.values):
        raise ValidationError(_("Unknown payment status."))
    fee_classes = sorted(set(audience.get("fee_classes") or []))
    if set(fee_classes) - set(FeeClass.values):
        raise ValidationError(_("Unknown fee class."))
    extra = {key: audience[key] for key in _AUDIENCES if audience.get(key) is not None}
    return {
        "divisions": divisions,
        "payment_statuses": statuses,
        "fee_classes": fee_classes,
        **extra,
    }


def _members(division: Division, audience: dict[str, Any], user: User) -> Any:
    """Current members of the division that the user may write to, narrowed as chosen
    (consent and address not yet)."""
    audience = clean_audience(division, audience)
    qs = Member.objects.visible_to(user, Action.SEND_MAILING).current().in_subtree(division)
    if audience["divisions"]:
        paths = Division.objects.filter(pk__in=audience["divisions"]).values_list("path", flat=True)
        within = Q(pk__in=[])
        for path in paths:
            within |= Q(division__path__startswith=path)
        qs = qs.filter(within)
    if audience["payment_statuses"]:
        qs = qs.filter(payment_status__in=audience["payment_statuses"])
    if audience["fee_classes"]:
        qs = qs.filter(fee_class__in=audience["fee_classes"])
    for key, narrowing in _AUDIENCES.items():
        if key in audience:
            qs = qs.filter(narrowing(division, audience[key]))
    return qs


def _suppressed() -> Exists:
    return Exists(Suppression.objects.filter(email=Lower(OuterRef("email"))))


def recipients(division: Division, kind: str, audience: dict[str, Any], user: User | None) -> Any:
    """The members who get the mailing: with an address that is not suppressed, and for a
    newsletter only those who consented."""
    qs = _members(division, audience, user).exclude(email="").exclude(_suppressed())
    if kind == Mailing.Kind.NEWSLETTER:
        qs = qs.filter(newsletter_consent=True)
    return qs


@dataclass(frozen=True)
class AudienceCounts:
    recipients: int
    without_email: int
    suppressed: int
    without_consent: int


def count_audience(
    division: Division, kind: str, audience: dict[str, Any], user: User
) -> AudienceCounts:
    """How many the mailing reaches, and why the others are left out. On PostgreSQL from the
    audience figures (models.AudienceFigure, kept by triggers: mailings.audience), a few rows
    of each chosen subtree's top division however many members it holds; on SQLite from the
    members themselves."""
    if connection.vendor == "postgresql" and not any(key in audience for key in _AUDIENCES):
        return _count_from_figures(division, kind, audience, user)
    return _count_members(division, kind, audience, user)


def _count_from_figures(
    division: Division, kind: str, audience: dict[str, Any], user: User
) -> AudienceCounts:
    audience = clean_audience(division, audience)
    chosen = (
        list(Division.objects.filter(pk__in=audience["divisions"]).values_list("path", flat=True))
        if audience["divisions"]
        else [division.path]
    )
    # The figures count each subtree at its top: the tops of what is chosen and may be
    # written to, none inside another (or a member would count twice).
    tops = access.tops(chosen)
    if not access.has_global_access(user):
        allowed = access.root_paths(user, Action.SEND_MAILING)
        tops = [p for p in tops if any(p.startswith(a) for a in allowed)] + [
            a for a in allowed if any(a.startswith(p) and a != p for p in tops)
        ]
    figures = AudienceFigure.objects.filter(division__path__in=tops)
    if audience["payment_statuses"]:
        figures = figures.filter(payment_status__in=audience["payment_statuses"])
    if audience["fee_classes"]:
        figures = figures.filter(fee_class__in=audience["fee_classes"])
    rows = figures.values_list("address", "newsletter_consent").annotate(n=Sum("count"))
    return _tell_apart(rows.order_by(), newsletter=kind == Mailing.Kind.NEWSLETTER)


def _count_members(
    division: Division, kind: str, audience: dict[str, Any], user: User
) -> AudienceCounts:
    """All four numbers from one pass over the members: grouped by (kind of address,
    consent), which evaluates the suppression lookup once per member."""
    Address = AudienceFigure.Address
    rows = (
        _members(division, audience, user)
        .annotate(
            address=Case(
                When(email="", then=Value(Address.MISSING)),
                When(_suppressed(), then=Value(Address.BLOCKED)),
                default=Value(Address.USABLE),
            )
        )
        .values_list("address", "newsletter_consent")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return _tell_apart(rows, newsletter=kind == Mailing.Kind.NEWSLETTER)


def _tell_apart(rows: Iterable[tuple[str, bool, int]], *, newsletter: bool) -> AudienceCounts:
    """(kind of address, newsletter consent, how many) as the four numbers shown."""
    counts = {"recipients": 0, "without_email": 0, "suppressed": 0, "without_consent": 0}
    for address, consent, n in rows:
        if address == AudienceFigure.Address.MISSING:
            counts["without_email"] += n
        elif address == AudienceFigure.Address.BLOCKED:
            counts["suppressed"] += n
        elif newsletter and not consent:
            counts["without_consent"] += n
        else:
            counts["recipients"] += n
    return AudienceCounts(**counts)


def excluded_members(mailing: Mailing, user: User) -> tuple[Any, Any]:
    """Members of the audience the mailing cannot reach: without address, suppressed."""
    members = _members(mailing.division, mailing.audience, user).select_related("division")
    return members.filter(email=""), members.exclude(email="").filter(_suppressed())


def bounced_members(user: User) -> Any:
    """Current members in the user's area whose address is suppressed: to be fixed."""
    return (
        Member.objects.visible_to(user, Action.VIEW_MEMBERS)
        .current()
        .exclude(email="")
        .filter(_suppressed())
        .select_related("division")
    )


def suppressions_for(members: Iterable[Member]) -> dict[str, Suppression]:
    emails = {member.email.lower() for member in members if member.email}
    return {s.email: s for s in Suppression.objects.filter(email__in=emails)}


# --- Writing ---------------------------------------------------------------------------

EDITABLE = (
    "kind",
    "sender_name",
    "reply_to",
    "subject",
    "body",
    "audience",
)


def _check(user: User, action: Action, division: Division) -> None:
    if not access.can(user, action, division):
        raise PermissionDenied


def _validate(mailing: Mailing) -> None:
    unknown = content.unknown_fields(mailing.subject, mailing.body)
    if unknown:
        raise ValidationError(
            _("Unknown personal fields: %(fields)s. %(help)s")
            % {"fields": ", ".join(unknown), "help": content.FIELD_HELP}
        )
    if mailing.attachment is not None and len(mailing.attachment) > settings.MAILING_MAX_ATTACHMENT:
        raise ValidationError(_("The attachment is too large."))
    mailing.audience = clean_audience(mailing.division, mailing.audience)
    mailing.full_clean(exclude=["created_by", "division"])


@transaction.atomic
def create_mailing(*, by: User, division: Division, values: dict[str, Any]) -> Mailing:
    _check(by, Action.SEND_MAILING, division)
    mailing = Mailing(division=division, created_by=by, editors=[by.pk], **values)
    _validate(mailing)
    mailing.save()
    record_audit(
        actor=by,
        action="mailing.created",
        obj=mailing,
        division=division,
        summary=f"Mailing „{mailing.subject}“ written",
    )
    return mailing


def _lock(mailing: Mailing) -> Mailing:
    return Mailing.objects.select_for_update().select_related("division").get(pk=mailing.pk)


@transaction.atomic
def update_mailing(*, by: User, mailing: Mailing, values: dict[str, Any]) -> Mailing:
    mailing = _lock(mailing)
    _check(by, Action.SEND_MAILING, mailing.division)
    if mailing.status not in (Mailing.Status.DRAFT, Mailing.Status.AWAITING_RELEASE):
        raise ValidationError(_("A mailing that is being sent cannot be changed."))
    for field, value in values.items():
        setattr(mailing, field, value)
    if by.pk not in mailing.editors:
        mailing.editors = [*mailing.editors, by.pk]
    _validate(mailing)
    # A change after asking for release needs a new release.
    mailing.status = Mailing.Status.DRAFT
    mailing.requested_by = None
    mailing.save()
    record_audit(
        actor=by,
        action="mailing.changed",
        obj=mailing,
        division=mailing.division,
        summary=f"Mailing „{mailing.subject}“ changed",
    )
    return mailing


# --- Sending ---------------------------------------------------------------------------


def _start(mailing: Mailing, by: User) -> int:
    """Freeze the audience into one delivery per recipient and hand it to the workers."""
    from mailings import tasks

    members = (
        recipients(mailing.division, mailing.kind, mailing.audience, by)
        .order_by()
        .values_list("pk", "email")
    )
    sql, params = members.query.sql_with_params()
    table = connection.ops.quote_name(Delivery._meta.db_table)
    with connection.cursor() as cursor:
        # One statement, however large the audience; the unique (mailing, member)
        # constraint makes a second run add nobody.
        cursor.execute(
            f"INSERT INTO {table} (mailing_id, member_id, email) "  # noqa: S608 - our own SQL
            f"SELECT %s, audience.* FROM ({sql}) audience WHERE true ON CONFLICT DO NOTHING",
            [mailing.pk, *params],
        )
    mailing.total = Delivery.objects.filter(mailing=mailing).count()
    mailing.status = Mailing.Status.SENDING
    mailing.started_at = timezone.now()
    mailing.chain = uuid4().hex
    mailing.heartbeat_at = timezone.now()
    mailing.save()
    record_audit(
        actor=by,
        action="mailing.sending",
        obj=mailing,
        division=mailing.division,
        summary=f"Mailing „{mailing.subject}“ sent to {mailing.total} members",
        data={"audience": mailing.audience, "kind": mailing.kind, "recipients": mailing.total},
    )
    chain = mailing.chain
    dispatch.enqueue(tasks.send_batch, mailing.pk, chain)
    return mailing.total


@transaction.atomic
def request_sending(*, by: User, mailing: Mailing) -> Mailing:
    """Send now, or, where the division asks for it, wait for a second board member."""
    mailing = _lock(mailing)
    _check(by, Action.SEND_MAILING, mailing.division)
    if mailing.status != Mailing.Status.DRAFT:
        raise ValidationError(_("This mailing has already been sent or is waiting for release."))
    mailing.requested_by = by
    if release_required(mailing.division):
        mailing.status = Mailing.Status.AWAITING_RELEASE
        mailing.save()
        record_audit(
            actor=by,
            action="mailing.release_requested",
            obj=mailing,
            division=mailing.division,
            summary=f"Release of mailing „{mailing.subject}“ requested",
        )
        _ask_for_release(mailing, by)
        return mailing
    _start(mailing, by)
    return mailing


def _ask_for_release(mailing: Mailing, by: User) -> None:
    """Tell the board members who may release it (on the division or above), one e-mail each."""
    above = Division.objects.filter(path__in=mailing.division.ancestor_paths())
    emails = (
        access.holders(Action.RELEASE_MAILING, above)
        .exclude(user_id__in=[by.pk, mailing.created_by_id, *mailing.editors])
        .values_list("user__email", flat=True)
        .distinct()
    )
    url = settings.SITE_URL + reverse("mailings:mailing_detail", args=[mailing.pk])
    recipients_count = count_audience(
        mailing.division, mailing.kind, mailing.audience, by
    ).recipients
    for email in sorted(emails):
        outbox.send_templated(
            name="mailing_release",
            to=[email],
            context={"mailing": mailing, "url": url, "recipients": recipients_count},
        )


def may_release(user: User, mailing: Mailing) -> bool:
    return (
        mailing.status == Mailing.Status.AWAITING_RELEASE
        and access.can(user, Action.RELEASE_MAILING, mailing.division)
        and user.pk not in (mailing.created_by_id, mailing.requested_by_id, *mailing.editors)
    )


@transaction.atomic
def release_mailing(*, by: User, mailing: Mailing) -> Mailing:
    mailing = _lock(mailing)
    _check(by, Action.RELEASE_MAILING, mailing.division)
    if mailing.status != Mailing.Status.AWAITING_RELEASE:
        raise ValidationError(_("This mailing is not waiting for release."))
    if not may_release(by, mailing):
        raise ValidationError(_("A second board member must release it, not its author."))
    mailing.released_by = by
    mailing.released_at = timezone.now()
    _start(mailing, by)
    return mailing


@transaction.atomic
def withdraw_release_request(*, by: User, mailing: Mailing) -> Mailing:
    mailing = _lock(mailing)
    _check(by, Action.SEND_MAILING, mailing.division)
    if mailing.status == Mailing.Status.AWAITING_RELEASE:
        mailing.status = Mailing.Status.DRAFT
        mailing.requested_by = None
        mailing.save()
        record_audit(
            actor=by,
            action="mailing.release_withdrawn",
            obj=mailing,
            division=mailing.division,
            summary=f"Release request for mailing „{mailing.subject}“ withdrawn",
        )
    return mailing


@transaction.atomic
def pause_mailing(*, by: User, mailing: Mailing) -> Mailing:
    mailing = _lock(mailing)
    _check(by, Action.SEND_MAILING, mailing.division)
    if mailing.status == Mailing.Status.SENDING:
        mailing.status = Mailing.Status.PAUSED
        mailing.chain = ""  # the running chain stops before its next batch
        mailing.save()
        record_audit(
            actor=by,
            action="mailing.paused",
            obj=mailing,
            division=mailing.division,
            summary=f"Mailing „{mailing.subject}“ paused",
        )
    return mailing


@transaction.atomic
def resume_mailing(*, by: User | None, mailing: Mailing) -> Mailing:
    """Go on sending after a pause or a lost worker; already sent deliveries stay sent."""
    from mailings import sending, tasks

    mailing = _lock(mailing)
    if by is not None:
        _check(by, Action.SEND_MAILING, mailing.division)
    if mailing.status not in (Mailing.Status.PAUSED, Mailing.Status.SENDING):
        return mailing
    sending.requeue_interrupted(mailing)
    mailing.status = Mailing.Status.SENDING
    mailing.chain = uuid4().hex
    mailing.heartbeat_at = timezone.now()
    mailing.save()
    if by is not None:
        record_audit(
            actor=by,
            action="mailing.resumed",
            obj=mailing,
            division=mailing.division,
            summary=f"Mailing „{mailing.subject}“ resumed",
        )
    chain = mailing.chain
    dispatch.enqueue(tasks.send_batch, mailing.pk, chain)
    return mailing


def progress(mailing: Mailing) -> dict[str, int]:
    counts = dict.fromkeys(Delivery.Status.values, 0)
    rows = (
        Delivery.objects.filter(mailing=mailing)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts.update(dict(rows))
    return counts
