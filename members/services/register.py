"""Writes to the member register. Each keeps a version (who, when, what, why) and audits."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from members import access, figures
from members.models import (
    TRANSFER_OUT,
    Division,
    EndReason,
    Member,
    MembershipPeriod,
    MemberStatus,
    MemberVersion,
    NumberSequence,
    PeriodStart,
    User,
)
from members.models.register import json_value
from members.policy import fee_policy
from members.services.accounts import record_audit
from members.signals import dues_relevant_change

if TYPE_CHECKING:
    from members.models import ChangeRequest

# Changes to these fields change what the member owes.
DUES_FIELDS = frozenset({"fee_class", "dues_tier", "reduced_until", "date_of_birth"})
# What a change of the record may touch; status, division and dates change only through
# admission, exit and transfer.
EDITABLE_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "email",
        "phone",
        "street",
        "postal_code",
        "city",
        "country",
        "date_of_birth",
        "fee_class",
        "dues_tier",
        "reduced_until",
        "newsletter_consent",
    }
)


def next_membership_number() -> int:
    """The next number; numbers are never reused because members are never deleted."""
    sequence, _created = NumberSequence.objects.select_for_update().get_or_create(name="membership")
    highest = Member.objects.aggregate(highest=Max("membership_number"))["highest"] or 0
    sequence.last_value = max(sequence.last_value, highest) + 1
    sequence.save(update_fields=["last_value"])
    return sequence.last_value


def _lock(member: Member) -> Member:
    return Member.objects.select_for_update().select_related("division").get(pk=member.pk)


def _save_version(
    *,
    member: Member,
    by: User | None,
    reason: str,
    before: Mapping[str, Any] | None,
    change_request: ChangeRequest | None,
) -> MemberVersion:
    after = member.register_values()
    changes = {
        field: [before.get(field), value]
        for field, value in after.items()
        if before is not None and before.get(field) != value
    }
    return MemberVersion.objects.create(
        member=member,
        version=member.version,
        recorded_by=by,
        reason=reason[:300],
        values=after,
        changes=changes,
        change_request=change_request,
    )


def _federal_office_only(by: User | None) -> None:
    """The register is changed directly by the federal office (and by the system itself:
    `by` None); boards and everyone else submit change requests."""
    if by is not None and not access.has_global_access(by):
        raise PermissionDenied(
            _("Only the federal office changes the register directly; submit a change request.")
        )


def state_of(division: Division) -> int | None:
    """The id of the state association the division lies in (None for the federal party)."""
    if division.depth < 2:
        return None
    return (
        Division.objects.filter(path=division.path[: 2 * Division.steplen])
        .values_list("pk", flat=True)
        .first()
    )


def fill_states() -> int:
    """Set every member's state from the tree (after bulk writes, and after a division moved
    to another state); returns how many rows changed."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Member._meta.db_table} AS m SET state_id = s.id
            FROM {Division._meta.db_table} AS d, {Division._meta.db_table} AS s
            WHERE d.id = m.division_id AND s.path = substr(d.path, 1, %s)
              AND (m.state_id IS NULL OR m.state_id <> s.id)
            """,  # noqa: S608 - table names are ours
            [2 * Division.steplen],
        )
        return cursor.rowcount


def _validate(
    member: Member,
    *,
    fees: bool = True,
    granting: bool = False,
    changed: set[str] | None = None,
) -> None:
    member.full_clean(
        exclude=["membership_number", "division", "search_text"], validate_unique=False
    )
    if fees:  # fee class, tier, reduction and age as the finance order allows them
        fee_policy().validate(
            {field: getattr(member, field) for field in DUES_FIELDS},
            on=timezone.localdate(),
            granting=granting,
            changed=changed,
        )


@transaction.atomic
def admit_member(
    *,
    by: User | None,
    division: Division,
    values: Mapping[str, Any],
    joined_on: date,
    reason: str = "",
    change_request: ChangeRequest | None = None,
    membership_number: int | None = None,
    welcome: bool = True,
) -> Member:
    """Enter a new member: pending until the first dues are paid. The dues of the year of
    entry are charged at once; with `welcome` the member gets their number and reference by
    e-mail (an import of an existing register passes False)."""
    _federal_office_only(by)
    unknown = set(values) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    if joined_on > timezone.localdate():
        raise ValidationError(_("The date may not lie in the future."))
    member = Member(
        membership_number=membership_number or next_membership_number(),
        division=division,
        state_id=state_of(division),
        joined_on=joined_on,
        status=MemberStatus.PENDING,
        **values,
    )
    _validate(member, granting=welcome)  # an existing register's record comes as it was
    member.save()
    MembershipPeriod.objects.create(
        member=member, division=division, started_on=joined_on, start_kind=PeriodStart.ENTRY
    )
    figures.count_member(division_id=division.pk, status=member.status, delta=1)
    figures.count_start(division=division, day=joined_on, kind=PeriodStart.ENTRY)
    _save_version(member=member, by=by, reason=reason, before=None, change_request=change_request)
    record_audit(
        actor=by,
        action="member.admitted",
        obj=member,
        division=division,
        summary=f"{member} admitted to {division.code}",
        data={"change_request": change_request.pk if change_request else None},
    )
    dues_relevant_change.send(
        Member,
        member_ids=[member.pk],
        since=joined_on,
        by=by,
        event="admission" if welcome else "import",
        welcome=welcome,
    )
    return member


@transaction.atomic
def update_member(
    *,
    by: User | None,
    member: Member,
    changes: Mapping[str, Any],
    reason: str = "",
    change_request: ChangeRequest | None = None,
    granting: bool = True,
) -> Member:
    """Change the record. A new fee class is checked against the finance order; values
    brought in from an existing register (`granting` False) may lack a reduction's end date
    or a minor's date of birth."""
    _federal_office_only(by)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    member = _lock(member)
    before = member.register_values()
    for field, value in changes.items():
        setattr(member, field, value)
    changed = {f for f in DUES_FIELDS if before.get(f) != json_value(getattr(member, f))}
    _validate(
        member, fees=bool(changed), granting=granting and "fee_class" in changed, changed=changed
    )
    if member.register_values() == before:
        return member
    member.version += 1
    member.save()
    version = _save_version(
        member=member, by=by, reason=reason, before=before, change_request=change_request
    )
    record_audit(
        actor=by,
        action="member.changed",
        obj=member,
        division=member.division,
        summary=f"{member} changed: {', '.join(sorted(version.changes))}",
        data={"changes": version.changes},
    )
    if DUES_FIELDS & set(version.changes):
        # A change counts from the month after it is recorded; a reduction may be backdated.
        since = timezone.localdate()
        for field in ("reduced_until", "date_of_birth"):
            for value in version.changes.get(field, ()):
                if value:
                    since = min(since, date.fromisoformat(value))
        dues_relevant_change.send(
            Member, member_ids=[member.pk], since=since, by=by, event="change"
        )
    return member


@transaction.atomic
def end_membership(
    *,
    by: User | None,
    member: Member,
    on: date,
    reason: EndReason,
    note: str = "",
    change_request: ChangeRequest | None = None,
) -> Member:
    """End the membership on `on` (exit takes effect at once: not a member from that day)."""
    _federal_office_only(by)
    member = _lock(member)
    if member.status == MemberStatus.ENDED:
        raise ValidationError(_("This membership has already ended."))
    period = MembershipPeriod.objects.select_for_update().get(member=member, ended_on__isnull=True)
    if on < period.started_on:
        raise ValidationError(_("The end date lies before the start of the membership."))
    before = member.register_values()
    period.ended_on = on
    period.end_kind = reason
    period.save(update_fields=["ended_on", "end_kind"])
    figures.count_member(division_id=member.division_id, status=member.status, delta=-1)
    figures.count_member(division_id=member.division_id, status=MemberStatus.ENDED, delta=1)
    figures.count_end(division=member.division, day=on, kind=reason)
    member.status = MemberStatus.ENDED
    member.end_reason = reason
    member.left_on = on
    member.version += 1
    member.save()
    _save_version(
        member=member,
        by=by,
        reason=note or EndReason(reason).label,
        before=before,
        change_request=change_request,
    )
    record_audit(
        actor=by,
        action="member.ended",
        obj=member,
        division=member.division,
        summary=f"{member} ended on {on.isoformat()} ({reason})",
        data={"reason": reason, "on": on.isoformat(), "note": note},
    )
    dues_relevant_change.send(Member, member_ids=[member.pk], since=on, by=by, event="end")
    return member


@transaction.atomic
def transfer_member(
    *,
    by: User | None,
    member: Member,
    to: Division,
    on: date,
    note: str = "",
    change_request: ChangeRequest | None = None,
) -> Member:
    """Move the membership to another division from `on`."""
    _federal_office_only(by)
    member = _lock(member)
    if member.status == MemberStatus.ENDED:
        raise ValidationError(_("An ended membership cannot be transferred."))
    if to.pk == member.division_id:
        raise ValidationError(_("The member already belongs to this division."))
    period = MembershipPeriod.objects.select_for_update().get(member=member, ended_on__isnull=True)
    if on < period.started_on:
        raise ValidationError(_("The transfer date lies before the start of the membership."))
    before = member.register_values()
    source = member.division
    period.ended_on = on
    period.end_kind = TRANSFER_OUT
    period.save(update_fields=["ended_on", "end_kind"])
    MembershipPeriod.objects.create(
        member=member, division=to, started_on=on, start_kind=PeriodStart.TRANSFER_IN
    )
    figures.count_member(division_id=member.division_id, status=member.status, delta=-1)
    figures.count_member(division_id=to.pk, status=member.status, delta=1)
    figures.count_end(division=source, day=on, kind=TRANSFER_OUT)
    figures.count_start(division=to, day=on, kind=PeriodStart.TRANSFER_IN)
    member.division = to
    member.state_id = state_of(to)
    member.version += 1
    member.save()
    _save_version(member=member, by=by, reason=note, before=before, change_request=change_request)
    record_audit(
        actor=by,
        action="member.transferred",
        obj=member,
        division=to,
        summary=f"{member} transferred from {source.code} to {to.code} on {on.isoformat()}",
        data={"from": source.code, "to": to.code, "on": on.isoformat()},
    )
    return member


@transaction.atomic
def activate_members(
    member_ids: Iterable[int], *, reason: str, on: date | None = None
) -> list[int]:
    """Pending members become active on `on` (today: finance calls it in the transaction
    of the payment that settles their first dues); an active member never goes back to
    pending. Returns the ids that changed."""
    members = list(
        Member.objects.select_for_update()
        .filter(pk__in=list(member_ids), status=MemberStatus.PENDING)
        .select_related("division")
        .order_by("pk")
    )
    for member in members:
        before = member.register_values()
        figures.count_member(division_id=member.division_id, status=MemberStatus.PENDING, delta=-1)
        figures.count_member(division_id=member.division_id, status=MemberStatus.ACTIVE, delta=1)
        member.status = MemberStatus.ACTIVE
        member.active_since = on or timezone.localdate()
        member.version += 1
        member.save(update_fields=["status", "active_since", "version"])
        _save_version(member=member, by=None, reason=reason, before=before, change_request=None)
        record_audit(
            actor=None,
            action="member.activated",
            obj=member,
            division=member.division,
            summary=f"{member} active: {reason}",
            data={},
        )
    return [member.pk for member in members]


def set_payment_states(states: dict[int, tuple[Decimal, str, date | None]]) -> int:
    """Store balance, payment status and arrears date, as computed by finance (no audit
    entry: these follow from the ledger, which is itself append-only and audited).

    Members sharing a state (on the day dues fall due, most members of a class do) are
    written by one UPDATE: Django's bulk_update writes a CASE over the whole batch for every
    row, which on a whole register costs more than the recomputation itself."""
    alike: dict[tuple[Decimal, str, date | None], list[int]] = defaultdict(list)
    for pk, state in states.items():
        alike[state].append(pk)
    for (balance, status, since), ids in alike.items():
        for start in range(0, len(ids), 2000):
            Member.objects.filter(pk__in=ids[start : start + 2000]).update(
                balance=balance, payment_status=status, arrears_since=since
            )
    return len(states)
