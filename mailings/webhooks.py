"""The provider's tracking webhook, for the configured provider only.

django-anymail ships a webhook view for every provider it knows; mounting them all would let
anyone post unsigned events to the ones this installation does not use. Only the provider
named by MAILING_TRACKING_ESP answers (404 for the rest), and one whose calls are not signed
answers only when the basic-auth secret (ANYMAIL's WEBHOOK_SECRET) is set.

anymail checks the signature or secret and sends one `tracking` signal per event;
`mailings.tracking` applies each event once. A call whose events were all applied before
(a replay) is answered 400.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from anymail import urls as anymail_urls
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

TRACKING_VIEWS: dict[str, Callable[..., HttpResponse]] = {
    pattern.name.removesuffix("_tracking_webhook"): pattern.callback
    for pattern in anymail_urls.urlpatterns
    if pattern.name and pattern.name.endswith("_tracking_webhook")
}

# Counts what the events of the current call did: {"new": n, "seen": m}.
outcome: ContextVar[dict[str, int] | None] = ContextVar("webhook_outcome", default=None)


def _has_secret() -> bool:
    return bool(getattr(settings, "ANYMAIL", {}).get("WEBHOOK_SECRET"))


@csrf_exempt  # the provider cannot send a CSRF token; anymail checks signature or secret
def tracking(request: HttpRequest, esp: str) -> HttpResponse:
    view = TRACKING_VIEWS.get(esp)
    if view is None or esp != settings.MAILING_TRACKING_ESP:
        raise Http404
    view_class: Any = getattr(view, "view_class", None)
    if getattr(view_class, "warn_if_no_basic_auth", True) and not _has_secret():
        # An unsigned provider without a secret would accept anyone's calls.
        return HttpResponse("Webhook secret not configured.", status=403)
    token = outcome.set({"new": 0, "seen": 0})
    try:
        response = view(request)
        counts = outcome.get() or {}
    finally:
        outcome.reset(token)
    if response.status_code == 200 and counts.get("seen") and not counts.get("new"):
        return HttpResponse("These events were delivered before.", status=400)
    return response
