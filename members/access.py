"""The access rule, in one place.

Every question of the form "may this user see or act on this division, or on records that
belong to it" is answered here. Views, the admin, exports, mailings and statements ask this
module; nothing else filters by division for access.

A role on a division covers the whole subtree below it. Federal admins reach everything
through an explicit permission (`members.access_all_divisions`), never through `is_staff`
alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from django.db.models import BigIntegerField, Model, Q, QuerySet, Subquery, Value
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone

from members.models import Division, DivisionLevel, Role, RoleAssignment

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from members.models import User

    AnyUser = User | AnonymousUser

GLOBAL_PERMISSION = "members.access_all_divisions"


class Action(StrEnum):
    VIEW_DIVISION = "view_division"
    VIEW_MEMBERS = "view_members"
    VIEW_FINANCE = "view_finance"
    BOOK_PAYMENT = "book_payment"  # manual entries (cash, corrections) in the admin
    REQUEST_CHANGE = "request_change"
    EXPORT_MEMBERS = "export_members"
    SEND_MAILING = "send_mailing"
    RELEASE_MAILING = "release_mailing"
    RECEIVE_STATEMENT = "receive_statement"
    MANAGE_ROLES = "manage_roles"
    COORDINATE_ONBOARDING = "coordinate_onboarding"
    MANAGE_ASSEMBLIES = "manage_assemblies"  # eligibility, invitations, postal vote, check-in


# The permission matrix of DESIGN.md. A role grants its actions on its division and below.
ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.BOARD: frozenset(
        {
            Action.VIEW_DIVISION,
            Action.VIEW_MEMBERS,
            Action.VIEW_FINANCE,
            Action.BOOK_PAYMENT,
            Action.REQUEST_CHANGE,
            Action.EXPORT_MEMBERS,
            Action.SEND_MAILING,
            Action.RELEASE_MAILING,
            Action.RECEIVE_STATEMENT,
            Action.MANAGE_ROLES,
            Action.MANAGE_ASSEMBLIES,
        }
    ),
    Role.TREASURER: frozenset(
        {
            Action.VIEW_DIVISION,
            Action.VIEW_MEMBERS,
            Action.VIEW_FINANCE,
            Action.BOOK_PAYMENT,
            Action.EXPORT_MEMBERS,
            Action.RECEIVE_STATEMENT,
        }
    ),
    Role.MEMBERSHIP_OFFICER: frozenset(
        {
            Action.VIEW_DIVISION,
            Action.VIEW_MEMBERS,
            Action.REQUEST_CHANGE,
            Action.EXPORT_MEMBERS,
        }
    ),
    Role.MAILING_SENDER: frozenset({Action.VIEW_DIVISION, Action.SEND_MAILING}),
    Role.ONBOARDING_COORDINATOR: frozenset({Action.COORDINATE_ONBOARDING}),
    Role.VIEWER: frozenset({Action.VIEW_DIVISION, Action.VIEW_MEMBERS}),
}


@dataclass(frozen=True)
class Grant:
    division_id: int
    path: str
    role: Role
    valid_until: date | None = None
    level: str = ""
    name: str = ""  # the division's, for the menu

    @property
    def actions(self) -> frozenset[Action]:
        return ROLE_ACTIONS[self.role]

    def covers(self, division: Division) -> bool:
        return division.path.startswith(self.path)


_CACHE_ATTR = "_musterrolle_grants"


def grants_of(user: AnyUser) -> tuple[Grant, ...]:
    """The user's active role grants today, read once per user object (i.e. per request)."""
    if not user.is_authenticated or not user.is_active:
        return ()
    today = timezone.localdate()
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is not None and cached[0] == today:
        return cached[1]
    rows = (
        RoleAssignment.objects.active(today)
        .filter(user=user)
        .values_list(
            "division_id",
            "division__path",
            "role",
            "valid_until",
            "division__level",
            "division__name",
        )
    )
    grants = tuple(
        Grant(division_id=d, path=p, role=Role(r), valid_until=u, level=lv, name=n)
        for d, p, r, u, lv, n in rows
    )
    setattr(user, _CACHE_ATTR, (today, grants))
    return grants


def forget_grants(user: AnyUser) -> None:
    """Drop the per-request cache after the user's own roles changed."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def has_global_access(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_staff) and user.has_perm(
        GLOBAL_PERMISSION
    )


# Apps that build on members and give people other ways to see personal data (circles in
# onboarding) register a check here; members itself imports none of them.
EXTRA_PRIVILEGE_CHECKS: list[Callable[[Any], bool]] = []


def holds_privileges(user: AnyUser) -> bool:
    """Anyone with a role, staff status or a place in a circle must use a second factor."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser or grants_of(user):
        return True
    return any(check(user) for check in EXTRA_PRIVILEGE_CHECKS)


# Monthly statements are made per state association (finance.statements.send_all): a role
# on a district or below covers none of them.
STATEMENT_LEVELS = frozenset({DivisionLevel.FEDERAL, DivisionLevel.STATE})


def receives_statements(user: AnyUser) -> bool:
    """The federal office, and whoever may receive statements on a state or above."""
    return has_global_access(user) or any(
        Action.RECEIVE_STATEMENT in g.actions and g.level in STATEMENT_LEVELS
        for g in grants_of(user)
    )


def root_paths(user: AnyUser, action: Action) -> list[str]:
    """The tops of the subtrees on which the user may perform `action`, none inside another."""
    return tops({g.path for g in grants_of(user) if action in g.actions})


def tops(paths: Iterable[str]) -> list[str]:
    """Of these subtrees (their paths), those not inside another one."""
    roots: list[str] = []
    for path in sorted(set(paths)):  # an ancestor always comes before its descendants
        if not any(path.startswith(root) for root in roots):
            roots.append(path)
    return roots


def _subtree_q(paths: list[str], field: str) -> Q:
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{f"{field}__startswith": path})
    return q


def scope_divisions(qs: QuerySet[Division], user: AnyUser, action: Action) -> QuerySet[Division]:
    if has_global_access(user):
        return qs
    paths = root_paths(user, action)
    if not paths:
        return qs.none()
    return qs.filter(_subtree_q(paths, "path"))


def scope_by_division[M: Model](
    qs: QuerySet[M], user: AnyUser, action: Action, field: str = "division"
) -> QuerySet[M]:
    """Narrow a queryset of records that belong to a division (through `field`)."""
    if has_global_access(user):
        return qs
    paths = root_paths(user, action)
    if not paths:
        return qs.none()
    return qs.filter(_subtree_q(paths, f"{field}__path"))


STATE_PATH_LENGTH = 2 * Division.steplen


def member_subtree_q(path: str, division_id: int) -> Q:
    """Members in the subtree at `path`. A state's subtree is its members' own `state`
    column (kept with every admission and transfer, and in the same transaction as a division
    moving between states): the indexes starting with it serve a state's lists without
    reading the divisions, and without walking the other states' members."""
    if len(path) == STATE_PATH_LENGTH:
        # As bigint, the column's type: the search index's operator class takes no other.
        return Q(state_id=Cast(Value(division_id), BigIntegerField()))
    q = Q(division__path__startswith=path)
    if len(path) > STATE_PATH_LENGTH:  # and below a state: only that state's index entries
        state = Division.objects.filter(path=path[:STATE_PATH_LENGTH]).values("pk")[:1]
        q &= Q(state_id=Subquery(state))
    return q


def scope_members[M: Model](qs: QuerySet[M], user: AnyUser, action: Action) -> QuerySet[M]:
    """Narrow a queryset of members to those the user may act on."""
    if has_global_access(user):
        return qs
    paths = root_paths(user, action)
    if not paths:
        return qs.none()
    ids = {g.path: g.division_id for g in grants_of(user)}
    q = Q(pk__in=[])
    for path in paths:
        q |= member_subtree_q(path, ids[path])
    return qs.filter(q)


def divisions_visible_to(
    user: AnyUser, action: Action = Action.VIEW_DIVISION
) -> QuerySet[Division]:
    return scope_divisions(Division.objects.all(), user, action)


def holders(action: Action, divisions: Iterable[Division]) -> QuerySet[RoleAssignment]:
    """Today's active role assignments that give `action` directly on these divisions (who
    receives a statement, who may release a mailing)."""
    roles = [role for role, actions in ROLE_ACTIONS.items() if action in actions]
    return RoleAssignment.objects.active(timezone.localdate()).filter(
        division__in=list(divisions), role__in=roles, user__is_active=True
    )


def can(user: AnyUser, action: Action, division: Division) -> bool:
    if has_global_access(user):
        return True
    return any(action in g.actions and g.covers(division) for g in grants_of(user))


def actions_on(user: AnyUser, division: Division) -> frozenset[Action]:
    if has_global_access(user):
        return frozenset(Action)
    actions: set[Action] = set()
    for grant in grants_of(user):
        if grant.covers(division):
            actions |= grant.actions
    return frozenset(actions)


def get_visible_or_404[M: Model](user: AnyUser, model: type[M], action: Action, **lookup: Any) -> M:
    """Fetch one record the user may act on; out of scope is a 404, like a missing record."""
    qs = model._default_manager.all()
    if not hasattr(qs, "visible_to"):
        raise TypeError(f"{model.__name__} has no visible_to() and cannot be scoped.")
    try:
        return qs.visible_to(user, action).get(**lookup)
    except model.DoesNotExist as exc:
        raise Http404 from exc


# --- Delegation: who may grant which role where ---------------------------------------


def can_grant(user: AnyUser, role: Role, division: Division) -> bool:
    """No escalation.

    A grant needs the right to manage roles on the division, may only hand on actions the
    granter holds there, and a board role (elected) is recorded only from strictly above:
    a board records the boards of its sub-divisions, never its own.
    """
    if has_global_access(user):
        return True
    managing = [
        g for g in grants_of(user) if Action.MANAGE_ROLES in g.actions and g.covers(division)
    ]
    if not managing:
        return False
    if role == Role.BOARD and not any(g.path != division.path for g in managing):
        return False
    return ROLE_ACTIONS[role] <= actions_on(user, division)


def managing_term_ends(user: AnyUser, division: Division) -> date | None:
    """Until when the user may manage roles on the division; None: without an end date.

    A role handed on may not outlast the term of the role that allowed handing it on.
    """
    if has_global_access(user):
        return None
    ends = [
        g.valid_until
        for g in grants_of(user)
        if Action.MANAGE_ROLES in g.actions and g.covers(division)
    ]
    if not ends or None in ends:
        return None
    return max(e for e in ends if e is not None)


def grantable_roles(user: AnyUser, division: Division) -> list[Role]:
    return [role for role in Role if can_grant(user, role, division)]


def can_revoke(user: AnyUser, assignment: RoleAssignment) -> bool:
    return can_grant(user, Role(assignment.role), assignment.division)
