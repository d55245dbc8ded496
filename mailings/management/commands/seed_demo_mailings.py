"""A draft mailing for Sachsen and one bounced address (called by seed_demo)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from mailings import services, tracking
from mailings.models import Mailing
from members.models import Division, Member, User

BODY = """Hallo {{ vorname }},

der **Landesparteitag** findet am 14. März im Volkshaus Leipzig statt. Einlass ist ab 9 Uhr.

- Anträge bis zum 14. Februar an den Landesvorstand
- Die Tagesordnung folgt mit der Einladung

Mehr dazu unter [unserer Website](https://example.org/landesparteitag).

Solidarische Grüße
dein Landesvorstand
"""


class Command(BaseCommand):
    help = "Load a demo mailing draft for Sachsen (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if Mailing.objects.exists():
            return
        board = User.objects.filter(email="vorstand-sn@example.org").first()
        sachsen = Division.objects.filter(code="SN").first()
        if board is None or sachsen is None:
            return
        services.create_mailing(
            by=board,
            division=sachsen,
            values={
                "kind": "official",
                "sender_name": "Landesvorstand Sachsen",
                "reply_to": "vorstand-sn@example.org",
                "subject": "Einladung zum Landesparteitag, {{ vorname }}",
                "body": BODY,
                "audience": {},
            },
        )
        bounced = (
            Member.objects.current().in_subtree(sachsen).exclude(email="").order_by("pk").first()
        )
        if bounced is not None:
            tracking.suppress(bounced.email, "bounced", "550 5.1.1 mailbox unknown (demo)")
