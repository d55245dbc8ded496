"""Test data built through the services, the way the app builds it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth.models import Permission

from members import services
from members.models import (
    Division,
    DivisionLevel,
    Member,
    NumberSequence,
    Role,
    RoleAssignment,
    User,
)

PASSWORD = "a-long-test-password"


@dataclass
class Tree:
    bund: Division
    sn: Division
    leipzig: Division
    leipzig_sued: Division
    dresden: Division
    sh: Division
    kiel: Division


def add(name: str, code: str, level: DivisionLevel, parent: Division | None) -> Division:
    return services.add_division(name=name, code=code, level=level, parent=parent, by=None)


def build_tree() -> Tree:
    # Realistic membership numbers: six digits, as bank references carry them.
    NumberSequence.objects.update_or_create(name="membership", defaults={"last_value": 100000})
    bund = add("Bundesverband", "BUND", DivisionLevel.FEDERAL, None)
    sn = add("Landesverband Sachsen", "SN", DivisionLevel.STATE, bund)
    leipzig = add("Kreisverband Leipzig", "SN-L", DivisionLevel.DISTRICT, sn)
    leipzig_sued = add("Ortsverband Leipzig-Süd", "SN-L-1", DivisionLevel.LOCAL, leipzig)
    dresden = add("Kreisverband Dresden", "SN-DD", DivisionLevel.DISTRICT, sn)
    sh = add("Landesverband Schleswig-Holstein", "SH", DivisionLevel.STATE, bund)
    kiel = add("Kreisverband Kiel", "SH-KI", DivisionLevel.DISTRICT, sh)
    return Tree(bund, sn, leipzig, leipzig_sued, dresden, sh, kiel)


def enable_totp(user: User) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def make_user(
    email: str,
    division: Division | None,
    role: str | None,
    *,
    mfa: bool = True,
    federal: bool = False,
) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, first_name=email.split("@")[0])
    if federal:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label__in=[
                    "members",
                    "mailings",
                    "finance",
                    "onboarding",
                    "outbox",
                ]
            )
        )
    if division is not None and role is not None:
        RoleAssignment.objects.create(
            user=user, division=division, role=Role(role), valid_from=date(2020, 1, 1)
        )
    if mfa:
        enable_totp(user)
    return user


_people = iter(range(10**6))


def make_member(
    division: Division,
    *,
    joined_on: date = date(2020, 1, 1),
    welcome: bool = False,
    **values: object,
) -> Member:
    n = next(_people)
    fields = {
        "first_name": f"Vorname{n}",
        "last_name": f"Nachname{n}",
        "email": f"person{n}@example.org",
        "street": f"Hauptstraße {n % 100 + 1}",
        "postal_code": "04109",
        "city": "Leipzig",
        **values,
    }
    return services.admit_member(
        by=None, division=division, values=fields, joined_on=joined_on, welcome=welcome
    )


def make_fee_rules(
    *,
    tiers: str = "72,120,180,240,360,480,600",
    classes: tuple[str, ...] = ("regular", "reduced", "minor", "exempt"),
    valid_from: date = date(2016, 1, 1),
) -> None:
    """A finance order as the demo's: regular 120 € a year (tiered by income), reduced 36 €,
    minors 12 €, exempt nothing; due on 1 March."""
    from decimal import Decimal

    from finance.models import FeeRule

    amounts = {"regular": "120.00", "reduced": "36.00", "minor": "12.00", "exempt": "0.00"}
    for fee_class in classes:
        FeeRule.objects.create(
            fee_class=fee_class,
            yearly_amount=Decimal(amounts[fee_class]),
            valid_from=valid_from,
            tiers=tiers if fee_class == "regular" else "",
            due_month=3,
            due_day=1,
        )
