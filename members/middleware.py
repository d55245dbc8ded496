from __future__ import annotations

from collections.abc import Callable

from allauth.account.authentication import get_authentication_records
from allauth.mfa.signals import authenticator_added, authenticator_removed
from allauth.mfa.utils import is_mfa_enabled
from django.conf import settings
from django.contrib import messages
from django.dispatch import receiver
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
        if not access.holds_privileges(user):
            return False
        if request.session.get(CHECKED_FLAG):
            return False
        # Having a factor is not enough: this session must have used it (a login through
        # allauth's second step) or just set it up (which proves possession, too).
        if is_mfa_enabled(user) and second_factor_used(request):
            # Settled for this session: later requests skip the factor query. Removing a
            # factor (_forget_removed_factor) unsettles it.
            request.session[CHECKED_FLAG] = True
            return False
        return True


SESSION_FLAG = "musterrolle_second_factor"
CHECKED_FLAG = "musterrolle_second_factor_checked"


def second_factor_used(request: HttpRequest) -> bool:
    if request.session.get(SESSION_FLAG):
        return True
    records = get_authentication_records(request, request.user)
    return any(record.get("method") == "mfa" for record in records)


@receiver(authenticator_added)
def _remember_new_factor(sender: object, request: HttpRequest, **kwargs: object) -> None:
    """Setting up a factor proves possession of it: no second login needed."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_FLAG] = True


@receiver(authenticator_removed)
def _forget_removed_factor(sender: object, request: HttpRequest, **kwargs: object) -> None:
    """The next request checks again whether the user still has a factor."""
    if request is not None and hasattr(request, "session"):
        request.session.pop(CHECKED_FLAG, None)
