from __future__ import annotations

from typing import Any, NamedTuple

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from members import access
from members.models import Role


def _in_circle(user: Any) -> bool:
    """Circles are for their people (asked through the checks onboarding registers: members
    does not import it), for those who may found circles and for the federal office."""
    return (
        access.has_global_access(user)
        or bool(access.root_paths(user, access.Action.COORDINATE_ONBOARDING))
        or any(check(user) for check in access.EXTRA_PRIVILEGE_CHECKS)
    )


class NavDivision(NamedTuple):
    pk: int
    name: str
    path: str


def _nav_divisions(user: Any) -> list[NavDivision]:
    """The divisions the user holds roles on and may open, top first (as on the start page,
    queries.my_divisions), from the grants already read for this request: no query."""
    grants = access.grants_of(user)
    viewing = [g.path for g in grants if access.Action.VIEW_DIVISION in g.actions]
    everywhere = access.has_global_access(user)
    shown = {
        NavDivision(g.division_id, g.name, g.path)
        for g in grants
        if everywhere or any(g.path.startswith(p) for p in viewing)
    }
    return sorted(shown, key=lambda division: division.path)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"mfa_relaxed": settings.MUSTERROLLE_RELAX_MFA}
    return {
        # Lazy: pages that do not render the menu (htmx partials) do not pay the query.
        "nav_divisions": SimpleLazyObject(lambda: _nav_divisions(user)),
        "nav_statements": access.receives_statements(user),
        "nav_arrears": access.has_global_access(user)
        or any(access.Action.VIEW_FINANCE in g.actions for g in access.grants_of(user)),
        "nav_mailings": access.has_global_access(user)
        or any(access.Action.SEND_MAILING in g.actions for g in access.grants_of(user)),
        "nav_assemblies": access.has_global_access(user)
        or any(access.Action.MANAGE_ASSEMBLIES in g.actions for g in access.grants_of(user)),
        # The data-protection pages: the federal office, and the boards of state associations
        # (their need-to-know report).
        "nav_privacy": access.has_global_access(user)
        or any(
            g.role == Role.BOARD and g.level in access.STATEMENT_LEVELS
            for g in access.grants_of(user)
        ),
        "nav_onboarding": SimpleLazyObject(
            lambda: access.holds_privileges(user) and _in_circle(user)
        ),
        "nav_requests": access.has_global_access(user)
        or any(access.Action.VIEW_MEMBERS in g.actions for g in access.grants_of(user)),
        "nav_admin": user.is_staff,
        "mfa_relaxed": settings.MUSTERROLLE_RELAX_MFA,
    }
