from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from mailings import outbox


class AccountAdapter(DefaultAccountAdapter):
    """Accounts come by invitation only; allauth's mails leave through the outbox."""

    def is_open_for_signup(self, request: HttpRequest) -> bool:
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        outbox.queue_message(
            self.render_mail(template_prefix, email, context), template=template_prefix
        )
