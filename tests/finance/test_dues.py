"""Dues from fee rules: pro rata, expiring reductions, class changes, idempotent runs."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from finance import services
from finance.models import Charge, FeeRule
from members import services as members
from members.models import EndReason
from tests.factories import make_member

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def rules(db):
    return [
        FeeRule.objects.create(
            fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
        ),
        FeeRule.objects.create(
            fee_class="reduced", yearly_amount=Decimal("36.00"), valid_from=date(2020, 1, 1)
        ),
        FeeRule.objects.create(
            fee_class="exempt", yearly_amount=Decimal("0.00"), valid_from=date(2020, 1, 1)
        ),
    ]


def owed(member, year=2026):
    return Charge.objects.filter(member=member, year=year).aggregate(total=Sum("amount"))["total"]


def test_the_year_of_entry_is_pro_rata_by_month(tree, rules):
    with time_machine.travel(datetime(2026, 4, 15, 12, tzinfo=BERLIN)):
        member = make_member(tree.leipzig, joined_on=date(2026, 4, 15))
        services.run_dues(year=2026)
    charge = Charge.objects.get(member=member)
    assert (charge.amount, charge.due_on) == (
        Decimal("90.00"),
        date(2026, 4, 15),
    )  # April to December


def test_a_reduction_expires_and_the_regular_class_applies_again(tree, rules):
    member = make_member(
        tree.leipzig,
        joined_on=date(2020, 1, 1),
        fee_class="reduced",
        reduced_until=date(2026, 6, 30),
    )
    services.run_dues(year=2026)
    assert owed(member) == Decimal("78.00")  # 6 x 3 € reduced + 6 x 10 € regular


def test_a_class_change_mid_year_counts_from_the_next_month(tree, rules):
    with time_machine.travel(datetime(2020, 1, 1, 12, tzinfo=BERLIN)):
        member = make_member(tree.leipzig, joined_on=date(2020, 1, 1))
    with time_machine.travel(datetime(2026, 5, 10, 12, tzinfo=BERLIN)):
        members.update_member(
            by=None,
            member=member,
            changes={"fee_class": "reduced", "reduced_until": date(2027, 3, 31)},
        )
    services.run_dues(year=2026)
    assert owed(member) == Decimal(
        "71.00"
    )  # January to May regular (50 €), June to December reduced (21 €)


def test_an_exit_ends_the_dues_with_the_month_before_it(tree, rules):
    member = make_member(tree.leipzig, joined_on=date(2020, 1, 1))
    members.end_membership(by=None, member=member, on=date(2026, 7, 1), reason=EndReason.EXIT)
    services.run_dues(year=2026)
    assert owed(member) == Decimal("60.00")


def test_exempt_members_owe_nothing(tree, rules):
    member = make_member(tree.leipzig, joined_on=date(2020, 1, 1), fee_class="exempt")
    services.run_dues(year=2026)
    assert not Charge.objects.filter(member=member).exists()


def test_running_twice_charges_once_and_changes_become_reversals(tree, rules):
    member = make_member(tree.leipzig, joined_on=date(2020, 1, 1))
    assert Charge.objects.count() == 1  # the admission charged this year's dues
    first = services.run_dues(year=2026)
    second = services.run_dues(year=2026)
    assert (first.unchanged, second.unchanged, Charge.objects.count()) == (1, 1, 1)
    rules[0].yearly_amount = Decimal("144.00")
    rules[0].save()
    assert services.run_dues(year=2026).corrected == 1
    rules[0].yearly_amount = Decimal("96.00")
    rules[0].save()
    assert services.run_dues(year=2026).corrected == 1
    rows = list(
        Charge.objects.filter(member=member)
        .order_by("pk")
        .values_list("kind", "amount", "revision", "due_on")
    )
    first_due = rows[0][3]
    assert rows == [
        ("dues", Decimal("120.00"), 1, first_due),
        (
            "dues",
            Decimal("24.00"),
            2,
            max(first_due, timezone.localdate()),
        ),  # an increase: its own row
        ("reversal", Decimal("-120.00"), 1, first_due),  # a decrease reverses what was owed
        ("reversal", Decimal("-24.00"), 1, max(first_due, timezone.localdate())),
        ("dues", Decimal("96.00"), 3, first_due),  # owed since the first date it replaces
    ]
    assert owed(member) == Decimal("96.00")
    assert services.run_dues(year=2026).unchanged == 1


def test_the_command_runs_the_dues(tree, rules, capsys):
    make_member(tree.leipzig, joined_on=date(2020, 1, 1))
    call_command("run_dues", "--year", "2025", "--division", "SN")
    assert "1 charged" in capsys.readouterr().out
    assert Charge.objects.filter(year=2025).count() == 1
    call_command("run_dues", "--year", "2026", "--division", "SN")
    assert "1 unchanged" in capsys.readouterr().out


def test_a_regular_member_pays_the_tier_chosen_by_income(tree, rules):
    with time_machine.travel(datetime(2025, 12, 15, 12, tzinfo=BERLIN)):  # from January on
        member = make_member(tree.leipzig, joined_on=date(2020, 1, 1))
        members.update_member(by=None, member=member, changes={"dues_tier": Decimal("240.00")})
    services.run_dues(year=2026)
    assert owed(member) == Decimal("240.00")


def test_minors_pay_the_minors_rule(tree, rules):
    FeeRule.objects.create(
        fee_class="minor", yearly_amount=Decimal("12.00"), valid_from=date(2020, 1, 1)
    )
    member = make_member(tree.leipzig, joined_on=date(2020, 1, 1), fee_class="minor")
    services.run_dues(year=2026)
    assert owed(member) == Decimal("12.00")


def test_a_board_requests_a_new_tier_through_the_fee_class_form(
    client, tree, board_sn, federal_admin, rules
):
    from django.urls import reverse

    from members.models import ChangeRequest

    member = make_member(tree.leipzig, joined_on=date(2020, 1, 1))
    client.force_login(board_sn)
    client.post(
        reverse("members:request_for_member", args=[member.pk, "fee_class"]),
        {"fee_class": "regular", "dues_tier": "360"},
    )
    request = ChangeRequest.objects.get()
    assert request.proposed == {"fee_class": "regular", "dues_tier": "360.00"}
    from members import services as register

    register.approve_change_request(request=request, by=federal_admin)
    member.refresh_from_db()
    assert member.dues_tier == Decimal("360.00")
