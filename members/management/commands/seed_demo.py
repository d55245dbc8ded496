"""Load the demo data. Safe to run again: what exists is left as it is."""

from __future__ import annotations

from datetime import date
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from members import services
from members.demo import populate_register
from members.models import (
    ChangeRequest,
    Division,
    DivisionLevel,
    Member,
    RequestKind,
    Role,
    RoleAssignment,
    User,
)

DEMO_PASSWORD = "musterrolle-demo"  # noqa: S105 - documented demo password, demo data only

FEDERAL = ("Bundesverband", "BUND")

# The 16 state associations with their two-letter codes and a few districts each; a few
# districts get local chapters. Codes of sub-divisions are prefixed with the state's code.
STATES: list[tuple[str, str, list[tuple[str, str, list[str]]]]] = [
    (
        "Baden-Württemberg",
        "BW",
        [("Stuttgart", "S", []), ("Karlsruhe", "KA", []), ("Freiburg", "FR", [])],
    ),
    (
        "Bayern",
        "BY",
        [("München", "M", ["Schwabing", "Giesing"]), ("Nürnberg", "N", []), ("Augsburg", "A", [])],
    ),
    (
        "Berlin",
        "BE",
        [("Friedrichshain-Kreuzberg", "FK", []), ("Neukölln", "NK", []), ("Pankow", "PK", [])],
    ),
    ("Brandenburg", "BB", [("Potsdam", "P", []), ("Cottbus", "CB", [])]),
    ("Bremen", "HB", [("Bremen-Stadt", "HB", []), ("Bremerhaven", "BHV", [])]),
    ("Hamburg", "HH", [("Altona", "AL", []), ("Eimsbüttel", "EI", []), ("Hamburg-Nord", "NO", [])]),
    (
        "Hessen",
        "HE",
        [("Frankfurt am Main", "F", []), ("Kassel", "KS", []), ("Darmstadt", "DA", [])],
    ),
    ("Mecklenburg-Vorpommern", "MV", [("Rostock", "HRO", []), ("Schwerin", "SN", [])]),
    (
        "Niedersachsen",
        "NI",
        [("Hannover", "H", []), ("Göttingen", "GÖ", []), ("Osnabrück", "OS", [])],
    ),
    (
        "Nordrhein-Westfalen",
        "NW",
        [("Köln", "K", ["Ehrenfeld", "Nippes"]), ("Düsseldorf", "D", []), ("Münster", "MS", [])],
    ),
    ("Rheinland-Pfalz", "RP", [("Mainz", "MZ", []), ("Trier", "TR", [])]),
    ("Saarland", "SL", [("Saarbrücken", "SB", []), ("Saarlouis", "SLS", [])]),
    (
        "Sachsen",
        "SN",
        [
            ("Leipzig", "L", ["Leipzig-Süd", "Leipzig-Ost"]),
            ("Dresden", "DD", ["Dresden-Neustadt"]),
            ("Chemnitz", "C", []),
        ],
    ),
    ("Sachsen-Anhalt", "ST", [("Magdeburg", "MD", []), ("Halle (Saale)", "HAL", [])]),
    (
        "Schleswig-Holstein",
        "SH",
        [("Kiel", "KI", []), ("Lübeck", "HL", []), ("Flensburg", "FL", [])],
    ),
    ("Thüringen", "TH", [("Erfurt", "EF", []), ("Jena", "J", [])]),
]

FEDERAL_OFFICE_GROUP = "Bundesmitgliederverwaltung"

# (e-mail, first name, last name, division code, role or None for the federal admin)
ACCOUNTS: list[tuple[str, str, str, str, Role | None]] = [
    ("bund@example.org", "Bettina", "Bundmann", "BUND", None),
    ("vorstand-sn@example.org", "Sabine", "Sachs", "SN", Role.BOARD),
    ("schatz-sn@example.org", "Thomas", "Schatzmeister", "SN", Role.TREASURER),
    ("vorstand-sh@example.org", "Hauke", "Hansen", "SH", Role.BOARD),
    ("kv-leipzig@example.org", "Lena", "Lindner", "SN-L", Role.BOARD),
    ("utopie25@example.org", "Uta", "Peters", "BUND", Role.ONBOARDING_COORDINATOR),
]


class Command(BaseCommand):
    help = "Load the demo divisions and accounts (idempotent). Password: musterrolle-demo"

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        created = self._divisions()
        group = self._federal_office_group()
        accounts = self._accounts(group)
        members = 0
        if not Member.objects.exists():
            members = populate_register(total=options["members"], today=timezone.localdate())
        requests = self._open_requests()
        # Apps that build on members add their demo data through their own command
        # (members does not import them).
        for command in (
            "seed_demo_finance",
            "seed_demo_mailings",
            "seed_demo_onboarding",
            "seed_demo_privacy",
        ):
            if command in get_commands():
                call_command(command, stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {created} divisions, {accounts} accounts, {members} members "
                f"and {requests} change requests added (password {DEMO_PASSWORD})."
            )
        )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--members", type=int, default=3000, help="How many members a new register gets."
        )

    def _open_requests(self) -> int:
        """Two open change requests in every state, by its board where the demo has one."""
        federal = User.objects.get(email="bund@example.org")
        added = 0
        for state in Division.objects.filter(level=DivisionLevel.STATE):
            if ChangeRequest.objects.open().in_subtree(state).exists():
                continue
            board = (
                User.objects.filter(
                    role_assignments__division=state, role_assignments__role=Role.BOARD
                ).first()
                or federal
            )
            member = (
                Member.objects.current().in_subtree(state).order_by("membership_number").first()
            )
            if member is None:
                continue
            services.submit_change_request(
                by=board,
                kind=RequestKind.CONTACT,
                member=member,
                values={"street": "Neue Straße 7", "phone": "0341 1234567"},
                note="Umzug innerhalb der Stadt",
            )
            district = Division.objects.get_children(state).first()
            services.submit_change_request(
                by=board,
                kind=RequestKind.ENTRY,
                division=district or state,
                values={
                    "first_name": "Neu",
                    "last_name": f"Mitglied-{state.code}",
                    "email": f"neu-{state.code.lower()}@example.org",
                    "postal_code": member.postal_code,
                    "city": member.city,
                    "street": "Am Markt 1",
                    "fee_class": "regular",
                },
                effective_on=timezone.localdate(),
            )
            added += 2
        return added

    def _add(self, name: str, code: str, level: DivisionLevel, parent: Division | None) -> int:
        if Division.objects.filter(code=code).exists():
            return 0
        services.add_division(name=name, code=code, level=level, parent=parent, by=None)
        return 1

    def _divisions(self) -> int:
        name, code = FEDERAL
        created = self._add(name, code, DivisionLevel.FEDERAL, None)
        federal = Division.objects.get(code=code)
        for state_name, state_code, districts in STATES:
            created += self._add(
                f"Landesverband {state_name}", state_code, DivisionLevel.STATE, federal
            )
            state = Division.objects.get(code=state_code)
            for district_name, suffix, chapters in districts:
                district_code = f"{state_code}-{suffix}"
                created += self._add(
                    f"Kreisverband {district_name}", district_code, DivisionLevel.DISTRICT, state
                )
                district = Division.objects.get(code=district_code)
                for number, chapter in enumerate(chapters, start=1):
                    created += self._add(
                        f"Ortsverband {chapter}",
                        f"{district_code}-{number}",
                        DivisionLevel.LOCAL,
                        district,
                    )
        return created

    def _federal_office_group(self) -> Group:
        group, _ = Group.objects.get_or_create(name=FEDERAL_OFFICE_GROUP)
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=[
                    "members",
                    "mailings",
                    "finance",
                    "onboarding",
                    "outbox",
                    "privacy",
                ]
            )
        )
        return group

    def _accounts(self, group: Group) -> int:
        added = 0
        for email, first_name, last_name, code, role in ACCOUNTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(
                    email=email, password=DEMO_PASSWORD, first_name=first_name, last_name=last_name
                )
                added += 1
                EmailAddress.objects.get_or_create(
                    user=user, email=email, defaults={"primary": True, "verified": True}
                )
            if role is None:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
                user.groups.add(group)
                continue
            division = Division.objects.get(code=code)
            if not RoleAssignment.objects.filter(
                user=user, division=division, role=role, revoked_at__isnull=True
            ).exists():
                assignment = RoleAssignment.objects.create(
                    user=user, division=division, role=role, valid_from=date(2024, 1, 1)
                )
                services.record_audit(
                    actor=None,
                    action="role.granted",
                    obj=assignment,
                    division=division,
                    summary=f"{role.label} on {code} granted to {email} (demo data)",
                )
        return added
