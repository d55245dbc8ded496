"""Reads shared by views and the admin."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils import timezone

from members import access
from members.models import Division, RoleAssignment, User


@dataclass(frozen=True)
class MyDivision:
    division: Division
    roles: list[str]
    can_open: bool


def my_divisions(user: User) -> list[MyDivision]:
    """The divisions the user holds roles on, with the role labels and whether the user may
    open the division's page (an onboarding coordinator may not), top first."""
    roles: dict[int, list[str]] = defaultdict(list)
    assignments = (
        RoleAssignment.objects.active(timezone.localdate())
        .filter(user=user)
        .select_related("division")
        .order_by("division__path", "role")
    )
    divisions: dict[int, Division] = {}
    for assignment in assignments:
        divisions[assignment.division_id] = assignment.division
        roles[assignment.division_id].append(assignment.get_role_display())
    return [
        MyDivision(division, roles[pk], access.can(user, access.Action.VIEW_DIVISION, division))
        for pk, division in divisions.items()
    ]


def role_assignments_in_subtree(user: User, division: Division) -> QuerySet[RoleAssignment]:
    """Active and future assignments on the division and below, as far as the user may manage."""
    return (
        RoleAssignment.objects.visible_to(user, access.Action.MANAGE_ROLES)
        .in_subtree(division)
        .filter(revoked_at__isnull=True)
        .select_related("user", "division", "granted_by")
        .order_by("division__path", "role", "user__email")
    )


def visible_ancestors(user: User, division: Division) -> QuerySet[Division]:
    """For breadcrumbs: the divisions above, as far as the user may see them."""
    return Division.objects.get_ancestors(division).visible_to(user, access.Action.VIEW_DIVISION)
