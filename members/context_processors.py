from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from members import access


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"mfa_relaxed": settings.MUSTERROLLE_RELAX_MFA}
    return {
        "nav_can_manage_roles": any(
            access.Action.MANAGE_ROLES in g.actions for g in access.grants_of(user)
        ),
        "nav_is_federal_admin": access.has_global_access(user),
        "nav_admin": user.is_staff,
        "mfa_relaxed": settings.MUSTERROLLE_RELAX_MFA,
    }
