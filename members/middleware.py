from __future__ import annotations

from collections.abc import Callable

from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from members import access

# Pages a user without a second factor may still open: logging in and out, setting up MFA,
# the language switch, static files and the health check.
EXEMPT_PREFIXES = ("/accounts/", "/i18n/", "/static/", "/healthz")


class RequireSecondFactorMiddleware:
    """Nobody with a role or staff status gets past this without a second factor."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._must_set_up_second_factor(request):
            setup_url = reverse("mfa_index")
            if getattr(request, "htmx", False):
                response = HttpResponse(status=403)
                response["HX-Redirect"] = setup_url
                return response
            messages.warning(
                request,
                _(
                    "You have access to personal data. Please set up a second factor "
                    "(authenticator app or security key) before you continue."
                ),
            )
            return redirect(setup_url)
        return self.get_response(request)

    @staticmethod
    def _must_set_up_second_factor(request: HttpRequest) -> bool:
        if settings.MUSTERROLLE_RELAX_MFA:
            return False
        if request.path.startswith(EXEMPT_PREFIXES):
            return False
        user = request.user
        return access.holds_privileges(user) and not is_mfa_enabled(user)
