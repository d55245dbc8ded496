import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from members import access
from members.management.commands.seed_demo import DEMO_PASSWORD
from members.models import Division, DivisionLevel, Member, Role, RoleAssignment, User

pytestmark = pytest.mark.django_db

STATE_CODES = {
    "BW",
    "BY",
    "BE",
    "BB",
    "HB",
    "HH",
    "HE",
    "MV",
    "NI",
    "NW",
    "RP",
    "SL",
    "SN",
    "ST",
    "SH",
    "TH",
}


def test_seed_demo_is_idempotent():
    call_command("seed_demo", members=200)
    counts = (Division.objects.count(), User.objects.count(), RoleAssignment.objects.count())
    call_command("seed_demo", members=200)
    assert (
        Division.objects.count(),
        User.objects.count(),
        RoleAssignment.objects.count(),
    ) == counts


def test_seed_demo_builds_the_sixteen_states_with_districts():
    call_command("seed_demo", members=200)
    states = Division.objects.filter(level=DivisionLevel.STATE)
    assert set(states.values_list("code", flat=True)) == STATE_CODES
    assert Division.objects.get(code="SN").name == "Landesverband Sachsen"
    for state in states:
        assert (
            Division.objects.get_children(state).filter(level=DivisionLevel.DISTRICT).count() >= 2
        )
    assert Division.objects.filter(level=DivisionLevel.LOCAL).exists()


@pytest.mark.parametrize(
    ("email", "code", "role"),
    [
        ("vorstand-sn@example.org", "SN", Role.BOARD),
        ("schatz-sn@example.org", "SN", Role.TREASURER),
        ("vorstand-sh@example.org", "SH", Role.BOARD),
        ("kv-leipzig@example.org", "SN-L", Role.BOARD),
        ("utopie25@example.org", "BUND", Role.ONBOARDING_COORDINATOR),
    ],
)
def test_demo_accounts_log_in_with_their_roles(email, code, role):
    call_command("seed_demo", members=200)
    user = authenticate(username=email, password=DEMO_PASSWORD)
    assert user is not None
    assert [
        (g.role, Division.objects.get(pk=g.division_id).code) for g in access.grants_of(user)
    ] == [(role, code)]


def test_demo_federal_admin_reaches_everything_through_the_explicit_permission():
    call_command("seed_demo", members=200)
    user = authenticate(username="bund@example.org", password=DEMO_PASSWORD)
    assert user.is_staff and not user.is_superuser
    assert access.has_global_access(user)
    assert user.has_perm("outbox.view_outboundemail")  # the outgoing e-mails in the admin


def test_seed_demo_brings_dues_and_payments():
    from finance.models import Charge, FeeRule, Payment

    call_command("seed_demo", members=200)
    assert FeeRule.objects.count() == 4
    assert Charge.objects.exists() and Payment.objects.exists()
    statuses = set(Member.objects.values_list("payment_status", flat=True))
    assert {"paid_up", "in_arrears"} <= statuses
    call_command("seed_demo", members=200)
    assert FeeRule.objects.count() == 4


def test_seed_demo_prepares_the_last_three_months_statements_without_sending_them(client, settings):
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    import time_machine
    from django.urls import reverse

    from finance.models import MonthlyStatement
    from outbox.models import OutboundEmail

    settings.MUSTERROLLE_RELAX_MFA = True  # as in `make run`: demo accounts have no factor
    with time_machine.travel(datetime(2026, 5, 12, 10, tzinfo=ZoneInfo("Europe/Berlin"))):
        call_command("seed_demo", members=200)
        call_command("seed_demo", members=200)  # a second run makes none twice
        client.force_login(User.objects.get(email="schatz-sn@example.org"))
        page = client.get(reverse("finance:statement_list"))

    listed = [(s.division.code, s.period, s.status) for s in page.context["page_obj"]]
    assert listed == [
        ("SN", date(2026, 4, 1), "ready"),
        ("SN", date(2026, 3, 1), "ready"),
        ("SN", date(2026, 2, 1), "ready"),
    ]
    for month in ("April 2026", "März 2026", "Februar 2026"):
        assert month in page.text
    assert MonthlyStatement.objects.count() == 3 * len(STATE_CODES)
    assert not OutboundEmail.objects.filter(template="monthly_statement").exists()
