"""Utopie25 and a working group with their procedures, people, channels and candidates at
every step (called by seed_demo). Idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from allauth.account.models import EmailAddress
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from members.management.commands.seed_demo import DEMO_PASSWORD
from members.models import Division, User
from onboarding import services
from onboarding.models import Circle, CircleMembership, CircleRole

# Circle members without a party role (they need not be party members).
PEOPLE = [
    ("mitglied-u25@example.org", "Mira", "Utopia"),
    ("netzwerk-u25@example.org", "Noah", "Netz"),
]


def _person(email: str, first_name: str, last_name: str) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password=DEMO_PASSWORD, first_name=first_name, last_name=last_name
        )
        EmailAddress.objects.get_or_create(
            user=user, email=email, defaults={"primary": True, "verified": True}
        )
    return user


class Command(BaseCommand):
    help = "Load demo circles (Utopie25 and a working group) with candidates (idempotent)."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        if Circle.objects.exists():
            return
        coordinator = User.objects.filter(email="utopie25@example.org").first()
        federal = Division.objects.filter(depth=1).first()
        if coordinator is None or federal is None:
            return
        today = timezone.localdate()
        utopie = services.create_circle(
            by=coordinator,
            name="Utopie25",
            division=federal,
            procedure={
                "description": "Linkslibertäres Netzwerk mit der Haltung der Gewaltfreien "
                "Kommunikation. Neue Menschen lernen wir erst kennen.",
                "veto_days": 14,
                "meetings_required": 2,
                "veto_blocks": True,
                "mediations_before_removal": 3,
            },
        )
        group = services.create_circle(
            by=coordinator,
            name="AG Digitales",
            division=federal,
            procedure={
                "description": "Arbeitsgruppe mit eigenem Verfahren: ein Kennenlernen, "
                "ein Veto geht in die Diskussion.",
                "veto_days": 7,
                "meetings_required": 1,
                "veto_blocks": False,
                "mediations_before_removal": 2,
            },
        )
        for name, kind, link in [
            ("Utopie25-Chat", "chat", "https://chat.example.org/#/room/#utopie25:example.org"),
            ("Mailingliste utopie25", "list", "https://lists.example.org/utopie25"),
            ("Gemeinsamer Ordner", "folder", "https://cloud.example.org/s/utopie25"),
        ]:
            services.add_channel(by=coordinator, circle=utopie, name=name, kind=kind, link=link)
        services.add_channel(
            by=coordinator,
            circle=group,
            name="AG-Chat",
            kind="chat",
            link="https://chat.example.org/#/room/#ag-digitales:example.org",
        )
        for email, first, last in PEOPLE:
            user = _person(email, first, last)
            for circle in (utopie, group):
                CircleMembership.objects.get_or_create(
                    circle=circle,
                    user=user,
                    ended_on=None,
                    defaults={"role": CircleRole.MEMBER, "joined_on": today - timedelta(days=400)},
                )

        def candidate(first: str, last: str, circle: Circle = utopie, **values: Any) -> Any:
            return services.register_candidate(
                by=coordinator,
                circle=circle,
                values={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{first.lower()}.{last.lower()}@example.org",
                    "found_via": values.get("found_via", "Stammtisch in Leipzig"),
                    "notes": values.get("notes", ""),
                },
            )

        candidate("Jonas", "Neu", found_via="Über den Blog")
        getting = candidate("Lea", "Kennen", notes="Sehr engagiert in der Mieter*inneninitiative.")
        services.record_meeting(
            by=coordinator,
            candidate=getting,
            held_on=today - timedelta(days=20),
            met_by="Uta, Mira",
        )
        ready = candidate("Tarek", "Bereit")
        for days in (30, 10):
            services.record_meeting(
                by=coordinator,
                candidate=ready,
                held_on=today - timedelta(days=days),
                met_by="Uta, Noah",
            )
        open_ = candidate("Sam", "Einspruch")
        for days in (40, 25):
            services.record_meeting(
                by=coordinator, candidate=open_, held_on=today - timedelta(days=days), met_by="Uta"
            )
        services.open_veto_period(by=coordinator, candidate=open_, today=today - timedelta(days=3))
        self.stdout.write("Demo circles Utopie25 and AG Digitales ready.")
