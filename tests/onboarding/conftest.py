from dataclasses import dataclass
from datetime import date

import pytest

from onboarding import services
from onboarding.models import Circle, CircleMembership, CircleRole
from tests.factories import make_user


@dataclass
class People:
    coordinator: object
    anna: object
    bernd: object
    outsider: object


def join(circle: Circle, user, role=CircleRole.MEMBER) -> CircleMembership:
    return CircleMembership.objects.create(
        circle=circle, user=user, role=role, joined_on=date(2025, 1, 1)
    )


@pytest.fixture
def people(db):
    return People(
        coordinator=make_user("koordination@example.org", None, None),
        anna=make_user("anna@example.org", None, None),
        bernd=make_user("bernd@example.org", None, None),
        outsider=make_user("aussen@example.org", None, None),
    )


def found(coordinator, name="Utopie25", **procedure):
    """A circle founded by the federal office's hand: the coordinator appointed directly."""
    defaults = {
        "veto_days": 14,
        "meetings_required": 2,
        "veto_blocks": True,
        "mediations_before_removal": 3,
    }
    circle = Circle.objects.create(name=name, **{**defaults, **procedure})
    join(circle, coordinator, CircleRole.COORDINATOR)
    return circle


@pytest.fixture
def utopie(people):
    circle = found(people.coordinator)
    join(circle, people.anna)
    join(circle, people.bernd)
    for name, kind in [("Chat", "chat"), ("Liste", "list"), ("Ordner", "folder")]:
        services.add_channel(by=people.coordinator, circle=circle, name=name, kind=kind)
    return circle


def register(circle, by, first="Sam", last="Neu", **values):
    return services.register_candidate(
        by=by,
        circle=circle,
        values={
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}@example.org",
            "found_via": "Stammtisch",
            "notes": values.get("notes", "vertraulich: kennt Anna aus der Initiative"),
        },
    )


def meet(candidate, by, *days):
    for day in days:
        services.record_meeting(by=by, candidate=candidate, held_on=day, met_by="Uta, Anna")
