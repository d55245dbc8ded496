"""Change requests: submitted by a state board, decided by the federal office."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from members import access
from members.access import Action
from members.models import (
    ChangeRequest,
    Division,
    EndReason,
    Member,
    MemberStatus,
    RequestKind,
    RequestStatus,
    User,
)
from members.models.register import json_value
from members.policy import fee_policy, mandate_policy
from members.services.accounts import record_audit
from members.services.register import (
    DUES_FIELDS,
    EDITABLE_FIELDS,
    admit_member,
    end_membership,
    transfer_member,
    update_member,
)
from outbox import services as outbox


class ChangeRequestError(ValidationError):
    pass


class StaleChangeRequest(ChangeRequestError):
    pass


def _from_json(field: str, value: Any) -> Any:
    if field in {"date_of_birth", "reduced_until"} and value:
        return date.fromisoformat(value)
    if field == "dues_tier" and value not in (None, ""):
        return Decimal(value)
    return value


@transaction.atomic
def submit_change_request(
    *,
    by: User,
    kind: RequestKind,
    values: Mapping[str, Any],
    member: Member | None = None,
    division: Division | None = None,
    target_division: Division | None = None,
    effective_on: date | None = None,
    note: str = "",
    granting: bool = True,
) -> ChangeRequest:
    """Record what the board wants changed, with the values it saw when it asked.

    `division` is where an entry goes; every other kind is about `member`. A fee class is
    checked against the finance order now; an import of an existing sheet (`granting` False)
    may bring a reduction without its end date or a minor without a date of birth.
    """
    if kind == RequestKind.ENTRY:
        if division is None:
            raise ValidationError(_("An entry needs a division."))
        _refuse_repeated_entry(division, values)
        base: dict[str, Any] = {}
        base_version = None
    else:
        if member is None:
            raise ValidationError(_("This request needs a member."))
        member = Member.objects.select_related("division").get(pk=member.pk)
        division = member.division
        if member.status == MemberStatus.ENDED:
            raise ValidationError(_("This membership has ended; it cannot be changed any more."))
        if member.change_requests.open().filter(kind=kind).exists():
            raise ValidationError(
                _("There is already an open request of this kind for this member.")
            )
        current = member.register_values()
        base = {field: current[field] for field in values if field in current}
        base_version = member.version
        if kind in (RequestKind.CONTACT, RequestKind.FEE_CLASS) and all(
            base.get(field) == json_value(value) for field, value in values.items()
        ):
            raise ValidationError(_("Nothing has changed."))
        if kind in (RequestKind.EXIT, RequestKind.TRANSFER) and effective_on is not None:
            period = member.periods.filter(ended_on__isnull=True).first()
            if period is not None and effective_on < period.started_on:
                raise ValidationError(
                    _("The date lies before %(day)s, when the current membership period began.")
                    % {"day": date_format(period.started_on, "SHORT_DATE_FORMAT")}
                )
    if not access.can(by, Action.REQUEST_CHANGE, division):
        raise PermissionDenied(_("You may not submit changes for this division."))
    if kind == RequestKind.MANDATE:
        # Not a register field: the app that keeps mandates checks the values now.
        policy = mandate_policy()
        if policy is None:
            raise ValidationError(_("Direct-debit mandates are not kept here."))
        values = policy.check(member, values)
        base = {}
    unknown = (
        set() if kind == RequestKind.MANDATE else set(values) - EDITABLE_FIELDS - {"end_reason"}
    )
    if unknown:
        raise ValidationError(_("Unknown fields: %s") % ", ".join(sorted(unknown)))
    if kind in (RequestKind.ENTRY, RequestKind.FEE_CLASS):
        # Refused now, with the reason, rather than when the federal office approves it.
        fees = {} if member is None else {f: getattr(member, f) for f in DUES_FIELDS}
        fees.update(
            {f: _from_json(f, json_value(v)) for f, v in values.items() if f in DUES_FIELDS}
        )
        fee_policy().validate(fees, on=timezone.localdate(), granting=granting)
    if kind == RequestKind.TRANSFER:
        if target_division is None or target_division.pk == division.pk:
            raise ValidationError(_("Choose the division the member moves to."))
        base = {"division_id": division.pk}
    request = ChangeRequest.objects.create(
        kind=kind,
        division=division,
        member=member,
        target_division=target_division,
        proposed={field: json_value(value) for field, value in values.items()},
        base=base,
        base_version=base_version,
        effective_on=effective_on,
        note=note,
        requested_by=by,
    )
    # Moving inside the requester's own area needs no further consent.
    if target_division is not None and access.can(by, Action.REQUEST_CHANGE, target_division):
        request.consented_by = by
        request.consented_at = timezone.now()
        request.save(update_fields=["consented_by", "consented_at"])
    record_audit(
        actor=by,
        action="change_request.submitted",
        obj=request,
        division=division,
        summary=f"{request.get_kind_display()} requested",
        data={"proposed": request.proposed, "base": base},
    )
    return request


@transaction.atomic
def consent_to_transfer(*, request: ChangeRequest, by: User) -> ChangeRequest:
    """The receiving division agrees to take the member."""
    request = ChangeRequest.objects.select_for_update().get(pk=request.pk)
    if request.kind != RequestKind.TRANSFER or request.status != RequestStatus.OPEN:
        raise ChangeRequestError(_("Only open transfers need consent."))
    if not access.can(by, Action.REQUEST_CHANGE, request.target_division):
        raise PermissionDenied
    request.consented_by = by
    request.consented_at = timezone.now()
    request.save(update_fields=["consented_by", "consented_at"])
    record_audit(
        actor=by,
        action="change_request.consented",
        obj=request,
        division=request.target_division,
        summary="transfer consented by the receiving division",
    )
    return request


def _stale_fields(request: ChangeRequest, member: Member) -> list[str]:
    current = member.register_values()
    return [field for field, value in request.base.items() if current.get(field) != value]


def _apply(request: ChangeRequest, by: User) -> None:
    proposed = {field: _from_json(field, value) for field, value in request.proposed.items()}
    reason = _("Change request #%(number)s by %(user)s") % {
        "number": request.pk,
        "user": request.requested_by,
    }
    match request.kind:
        case RequestKind.ENTRY:
            member = admit_member(
                by=by,
                division=request.division,
                values=proposed,
                joined_on=request.effective_on or timezone.localdate(),
                reason=reason,
                change_request=request,
                # A sheet's existing members are brought in as they were, not welcomed anew.
                welcome=request.batch_id is None,
            )
            request.member = member
        case RequestKind.EXIT:
            end_membership(
                by=by,
                member=request.member,
                on=request.effective_on or timezone.localdate(),
                reason=EndReason(proposed["end_reason"]),
                note=reason,
                change_request=request,
            )
        case RequestKind.TRANSFER:
            transfer_member(
                by=by,
                member=request.member,
                to=request.target_division,
                on=request.effective_on or timezone.localdate(),
                note=reason,
                change_request=request,
            )
        case RequestKind.MANDATE:
            policy = mandate_policy()
            if policy is None:
                raise ChangeRequestError(_("Direct-debit mandates are not kept here."))
            policy.record(request.member, request.proposed, by)
        case _:
            update_member(
                by=by,
                member=request.member,
                changes=proposed,
                reason=reason,
                change_request=request,
                granting=request.batch_id is None,  # an imported sheet's values, as they were
            )


def approve_change_request(*, request: ChangeRequest, by: User) -> ChangeRequest:
    """Apply the proposed values at once, in one transaction, and tell the requester.

    A request whose base values no longer match the member is marked stale and refused:
    it never overwrites a newer change.
    """
    if not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office decides change requests."))
    try:
        with transaction.atomic():
            locked = ChangeRequest.objects.select_for_update().get(pk=request.pk)
            if locked.status != RequestStatus.OPEN:
                raise ChangeRequestError(_("This request has already been decided."))
            if locked.member_id is not None:
                member = Member.objects.select_for_update().get(pk=locked.member_id)
                stale = _stale_fields(locked, member)
                if stale:
                    raise StaleChangeRequest(
                        _("The member has changed since the request was made (%(fields)s).")
                        % {"fields": ", ".join(stale)}
                    )
            if locked.kind == RequestKind.ENTRY:
                _refuse_duplicate_entry(locked)
            _apply(locked, by)
            _decide(locked, by=by, status=RequestStatus.APPLIED)
    except StaleChangeRequest:
        _mark_stale(request, by)
        raise
    return locked


def _refuse_repeated_entry(division: Division, values: Mapping[str, Any]) -> None:
    """The same person entered twice (a double click, a second tab) is refused."""
    same = ChangeRequest.objects.select_for_update().filter(
        kind=RequestKind.ENTRY,
        status=RequestStatus.OPEN,
        division=division,
        proposed__first_name=values.get("first_name", ""),
        proposed__last_name=values.get("last_name", ""),
    )
    if same.exists():
        raise ValidationError(
            _("An entry for this person is already waiting for the federal office.")
        )


def _refuse_duplicate_entry(request: ChangeRequest) -> None:
    """A person already in the register (anywhere) is not admitted a second time."""
    proposed = request.proposed
    current = Member.objects.current()
    # A family may share one address: the same address is the same person only with the
    # same first name.
    same_email = (
        bool(proposed.get("email"))
        and current.filter(
            email__iexact=proposed["email"], first_name__iexact=proposed.get("first_name", "")
        ).first()
    )
    same_person = (
        bool(proposed.get("date_of_birth"))
        and current.filter(
            last_name__iexact=proposed.get("last_name", ""),
            first_name__iexact=proposed.get("first_name", ""),
            date_of_birth=proposed["date_of_birth"],
        ).first()
    )
    duplicate = same_email or same_person
    if duplicate:
        raise ChangeRequestError(
            _("%(name)s may already be a member: see membership number %(number)s.")
            % {
                "name": f"{proposed.get('first_name', '')} {proposed.get('last_name', '')}".strip(),
                "number": duplicate.membership_number,
            }
        )


@transaction.atomic
def _mark_stale(request: ChangeRequest, by: User) -> None:
    ChangeRequest.objects.filter(pk=request.pk).update(is_stale=True)
    request.is_stale = True
    record_audit(
        actor=by,
        action="change_request.stale",
        obj=request,
        division=request.division,
        summary="refused: the member changed since the request was made",
    )


@transaction.atomic
def reject_change_request(*, request: ChangeRequest, by: User, reason: str) -> ChangeRequest:
    if not access.has_global_access(by):
        raise PermissionDenied(_("Only the federal office decides change requests."))
    if not reason.strip():
        raise ValidationError(_("Please give a reason for the rejection."))
    locked = ChangeRequest.objects.select_for_update().get(pk=request.pk)
    if locked.status != RequestStatus.OPEN:
        raise ChangeRequestError(_("This request has already been decided."))
    locked.rejection_reason = reason.strip()
    _decide(locked, by=by, status=RequestStatus.REJECTED)
    return locked


def _decide(request: ChangeRequest, *, by: User, status: RequestStatus) -> None:
    """Record the decision, audit it and tell the requester by e-mail."""
    request.status = status
    request.decided_by = by
    request.decided_at = timezone.now()
    request.save()
    record_audit(
        actor=by,
        action=f"change_request.{status}",
        obj=request,
        division=request.division,
        summary=f"{request.get_kind_display()} {status}",
        data={"reason": request.rejection_reason} if request.rejection_reason else {},
    )
    _tell_requester(request)


def _tell_requester(request: ChangeRequest) -> None:
    outbox.send_templated(
        name="change_request_decided",
        to=[request.requested_by.email],
        context={
            "request": request,
            "url": settings.SITE_URL + reverse("members:request_list"),
        },
    )
