from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.http import HttpRequest

from outbox import services as outbox


class AccountAdapter(DefaultAccountAdapter):
    """Accounts come by invitation only; allauth's mails leave through the outbox."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        request = getattr(allauth_context, "request", None)
        context = {
            "email": email,
            "current_site": SimpleNamespace(
                name="Musterrolle", domain=request.get_host() if request else ""
            ),
            **({"request": request} if request else {}),
            **context,
        }
        # Account mails carry reset or confirmation links: only the recipient may read them.
        outbox.queue_message(
            self.render_mail(template_prefix, email, context),
            template=template_prefix,
            sensitive=True,
        )
