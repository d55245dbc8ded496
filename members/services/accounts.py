"""Divisions, accounts and roles."""

from __future__ import annotations

from datetime import date
from typing import Any

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from members import access
from members.models import AuditEntry, Division, DivisionLevel, Role, RoleAssignment, User
from outbox import services as outbox


def record_audit(
    *,
    actor: User | None,
    action: str,
    obj: Model | None,
    summary: str,
    division: Division | None = None,
    data: dict[str, Any] | None = None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEntry:
    """One audit entry; about `obj`, or, for work on many rows (a dues run), about what
    `object_type` and `object_id` name."""
    return AuditEntry.objects.create(
        actor=actor,
        action=action,
        division=division,
        object_type=obj._meta.label_lower if obj is not None else object_type,
        object_id=str(obj.pk) if obj is not None else object_id[:40],
        summary=summary[:300],
        data=data or {},
    )


@transaction.atomic
def add_division(
    *, name: str, code: str, level: DivisionLevel, parent: Division | None, by: User | None
) -> Division:
    fields = {"name": name, "code": code, "level": level}
    if parent is None:
        division = Division.objects.add_root(create_kwargs=fields)
    else:
        parent.refresh_from_db()  # treebeard derives the new path from the parent's child count
        division = Division.objects.add_child(parent, create_kwargs=fields)
    record_audit(
        actor=by,
        action="division.added",
        obj=division,
        division=division,
        summary=f"{division} added",
        data={"parent": parent.code if parent else None},
    )
    return division


def _set_password_url(user: User) -> str:
    path = reverse(
        "account_reset_password_from_key",
        kwargs={
            "uidb36": user_pk_to_url_str(user),
            "key": default_token_generator.make_token(user),
        },
    )
    return f"{settings.SITE_URL}{path}"


def _create_invited_user(*, email: str, first_name: str, last_name: str, by: User | None) -> User:
    email = email.strip().lower()
    if User.objects.filter(email__iexact=email).exists():
        raise ValidationError(_("An account with this e-mail address exists already."))
    user = User.objects.create_user(email=email, first_name=first_name, last_name=last_name)
    user.set_unusable_password()
    user.save(update_fields=["password"])
    # The link only reaches the address itself, so following it proves the address.
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    record_audit(actor=by, action="user.invited", obj=user, summary=f"{email} invited")
    return user


def _send_invitation(*, user: User, by: User | None, assignment: RoleAssignment | None) -> None:
    outbox.send_templated(
        name="invitation",
        sensitive=True,
        to=[user.email],
        context={
            "user": user,
            "invited_by": by,
            "assignment": assignment,
            "url": _set_password_url(user),
        },
    )


@transaction.atomic
def invite_user(*, email: str, first_name: str = "", last_name: str = "", by: User | None) -> User:
    """Create an account without a password and mail the person a link to set one."""
    user = _create_invited_user(email=email, first_name=first_name, last_name=last_name, by=by)
    _send_invitation(user=user, by=by, assignment=None)
    return user


def check_grant(
    *,
    by: User,
    user: User | None,
    division: Division,
    role: Role,
    valid_from: date,
    valid_until: date | None,
) -> None:
    """Everything a grant must satisfy; raises PermissionDenied or ValidationError.

    Shared by the board UI and the admin, so both give the same answer.
    """
    if not access.can_grant(by, role, division):
        raise PermissionDenied(_("You may not grant this role on this division."))
    if valid_until is not None and valid_until < valid_from:
        raise ValidationError(_("The end date lies before the start date."))
    if not access.has_global_access(by):
        if user is not None and user.pk == by.pk:
            raise PermissionDenied(_("You cannot grant a role to yourself."))
        if valid_from < timezone.localdate():
            raise ValidationError(_("A role cannot begin in the past."))
        term_ends = access.managing_term_ends(by, division)
        if term_ends is not None and (valid_until is None or valid_until > term_ends):
            raise ValidationError(
                _("The role may not last longer than your own term (until %(day)s).")
                % {"day": date_format(term_ends, "SHORT_DATE_FORMAT")}
            )
    elif valid_until is not None and valid_until < timezone.localdate():
        raise ValidationError(_("This role would already have ended."))
    if user is not None:
        overlapping = RoleAssignment.objects.filter(
            user=user, division=division, role=role, revoked_at__isnull=True
        ).filter(Q(valid_until__isnull=True) | Q(valid_until__gte=valid_from))
        if valid_until is not None:
            overlapping = overlapping.filter(valid_from__lte=valid_until)
        if overlapping.exists():
            raise ValidationError(
                _("This person already holds this role on this division in that period.")
            )


@transaction.atomic
def grant_role(
    *,
    by: User,
    division: Division,
    role: Role,
    email: str,
    first_name: str = "",
    last_name: str = "",
    valid_from: date | None = None,
    valid_until: date | None = None,
) -> RoleAssignment:
    """Give a person a role on a division; invite them first if they have no account.

    Someone who never set a password gets a fresh invitation instead of a role notice.
    """
    valid_from = valid_from or timezone.localdate()
    user = User.objects.select_for_update().filter(email__iexact=email.strip()).first()
    check_grant(
        by=by,
        user=user,
        division=division,
        role=role,
        valid_from=valid_from,
        valid_until=valid_until,
    )
    invited = user is None or not user.has_usable_password()
    if user is None:
        user = _create_invited_user(email=email, first_name=first_name, last_name=last_name, by=by)
    assignment = RoleAssignment.objects.create(
        user=user,
        division=division,
        role=role,
        valid_from=valid_from,
        valid_until=valid_until,
        granted_by=by,
    )
    record_audit(
        actor=by,
        action="role.granted",
        obj=assignment,
        division=division,
        summary=f"{role.label} on {division.code} granted to {user.email}",
        data={
            "user": user.email,
            "role": role.value,
            "division": division.code,
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat() if valid_until else None,
        },
    )
    access.forget_grants(user)
    if invited:
        _send_invitation(user=user, by=by, assignment=assignment)
    else:
        outbox.send_templated(
            name="role_granted",
            to=[user.email],
            context={"assignment": assignment, "site_url": settings.SITE_URL},
        )
    return assignment


@transaction.atomic
def revoke_role(*, by: User, assignment: RoleAssignment) -> RoleAssignment:
    if not access.can_revoke(by, assignment):
        raise PermissionDenied(_("You may not revoke this role."))
    locked = RoleAssignment.objects.select_for_update().get(pk=assignment.pk)
    if locked.revoked_at is not None:
        return locked
    locked.revoked_at = timezone.now()
    locked.revoked_by = by
    locked.save(update_fields=["revoked_at", "revoked_by"])
    record_audit(
        actor=by,
        action="role.revoked",
        obj=locked,
        division=locked.division,
        summary=f"{locked.get_role_display()} on {locked.division.code} revoked from {locked.user.email}",
        data={"user": locked.user.email, "role": locked.role, "division": locked.division.code},
    )
    access.forget_grants(locked.user)
    return locked
