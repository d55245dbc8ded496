"""Boards and treasurers see payment status; others do not; nobody sees another state's."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from finance import payments, services
from finance.models import FeeRule
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(tree):
    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    with time_machine.travel(datetime(2026, 1, 2, 9, tzinfo=ZoneInfo("Europe/Berlin"))):
        # Charged on 2 January, as the yearly run does: due on 1 March.
        paid = make_member(tree.leipzig, last_name="Bezahlt", joined_on=date(2020, 1, 1))
        owing = make_member(tree.leipzig, last_name="Schuldig", joined_on=date(2020, 1, 1))
        foreign = make_member(tree.kiel, last_name="Kieler", joined_on=date(2020, 1, 1))
        services.run_dues(year=2026)
    payments.recompute_all()  # as every night since
    payments.record_payment(
        member=paid,
        amount=Decimal("120.00"),
        booked_on=date(2026, 2, 1),
        method="transfer",
        by=None,
    )
    return paid, owing, foreign


def test_the_treasurer_filters_by_payment_status(client, tree, treasurer_sn, ledger):
    client.force_login(treasurer_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    response = client.get(url, {"payment": "in_arrears"})
    assert [m.last_name for m in response.context["page_obj"]] == ["Schuldig"]
    assert "im Rückstand" in response.text


def test_a_membership_officer_sees_no_payment_status(client, tree, ledger):
    officer = make_user("mitglieder-sn@example.org", tree.sn, "membership_officer")
    client.force_login(officer)
    response = client.get(
        reverse("members:member_list", args=[tree.sn.pk]), {"payment": "in_arrears"}
    )
    assert [m.last_name for m in response.context["page_obj"]] == [
        "Bezahlt",
        "Schuldig",
    ]  # the filter is ignored
    assert "im Rückstand" not in response.text
    paid, *_ = ledger
    assert client.get(reverse("finance:member_account", args=[paid.pk])).status_code == 404


def test_the_member_account_shows_charges_payments_and_balance(client, tree, treasurer_sn, ledger):
    _paid, owing, foreign = ledger
    client.force_login(treasurer_sn)
    text = client.get(reverse("finance:member_account", args=[owing.pk])).text
    assert "-120,00 €" in text
    assert "Beitrag 2026" in text
    year = timezone.localdate().year
    assert f"Verwendungszweck: <strong>MB{year} {owing.membership_number}</strong>" in text
    assert client.get(reverse("finance:member_account", args=[foreign.pk])).status_code == 404


@time_machine.travel(datetime(2026, 11, 29, 12, tzinfo=ZoneInfo("Europe/Berlin")))
def test_the_finance_overview_counts_and_lists_arrears(client, tree, treasurer_sn, ledger):
    client.force_login(treasurer_sn)
    response = client.get(reverse("finance:division_overview", args=[tree.sn.pk]))
    assert response.context["counts"] == {"paid_up": 1, "due": 0, "in_arrears": 1, "exempt": 0}
    assert response.context["share_paid"] == 50
    assert [m.last_name for m in response.context["page_obj"]] == ["Schuldig"]
    assert dict(response.context["income_rows"])[date(2026, 2, 1)] == 120.0


def test_the_list_rows_show_german_labels_amounts_and_dates(client, tree, treasurer_sn, ledger):
    _paid, owing, _foreign = ledger
    # Names are data: escaped, never markup.
    type(owing).objects.filter(pk=owing.pk).update(first_name="<b>Eva</b>")
    client.force_login(treasurer_sn)
    response = client.get(reverse("members:member_list", args=[tree.sn.pk]))
    row = next(line for line in response.text.splitlines() if "Schuldig" in line)
    assert f'href="{reverse("members:member_detail", args=[owing.pk])}"' in row
    assert "Schuldig, &lt;b&gt;Eva&lt;/b&gt;" in row
    assert "im Rückstand" in row and "-120,00 €" in row
    assert "01.01.2020" in row and owing.division.name in row
    assert "schwebend (erster Beitrag noch nicht bezahlt)" in row  # the status, translated
