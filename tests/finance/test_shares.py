"""The split of dues between federal party, state associations and districts, to the cent,
and the quarterly payouts that lock what they paid."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from finance import shares, statements
from finance.models import Payout, Share, SharePolicy
from tests.finance.statements import entry
from tests.finance.test_year_rules import admit, at, book
from tests.finance.test_year_rules import rules as rules  # the fixture

pytestmark = pytest.mark.django_db

amounts = st.decimals(
    min_value=Decimal("-10000"), max_value=Decimal("10000"), places=2, allow_nan=False
)
percents = st.decimals(min_value=Decimal(0), max_value=Decimal(100), places=2, allow_nan=False)


@given(amount=amounts, federal=percents, district=percents, has_state=st.booleans())
def test_the_parts_add_up_to_the_cent_and_the_remainder_stays_with_the_state(
    amount, federal, district, has_state
):
    parts = shares.split(
        amount, federal_percent=federal, district_percent=district, has_state=has_state
    )
    assert sum(parts) == amount
    assert all(part == part.quantize(Decimal("0.01")) for part in parts)
    # A return splits exactly as its payment did, signs turned.
    back = shares.split(
        -amount, federal_percent=federal, district_percent=district, has_state=has_state
    )
    assert back == tuple(-part for part in parts)
    fed, state, district_part = (abs(p) for p in parts)
    if has_state:
        # Rounded down: never more than the exact part, and less by under a cent.
        exact_federal = abs(amount) * federal / 100
        assert fed <= exact_federal < fed + Decimal("0.01")
        assert district_part <= (abs(amount) - fed) * district / 100
    else:
        assert (state, district_part) == (0, 0)


def test_the_default_split_is_half_and_half_with_the_odd_cent_to_the_state():
    assert shares.split(
        Decimal("120.01"), federal_percent=Decimal(50), district_percent=Decimal(0), has_state=True
    ) == (Decimal("60.00"), Decimal("60.01"), Decimal("0.00"))


def pay(member, amount, ref, day=date(2026, 3, 20), **kwargs):
    book(
        entry(amount, ref=ref, reference=f"MB2026 {member.membership_number}", **kwargs),
        day=day,
        name=f"file-{ref}",
    )


def test_booked_dues_are_split_as_they_are_booked_and_reconcile(tree, rules):
    cents = [1, 3, 7, 12001, 99999, 3333, 50]
    SharePolicy.objects.update_or_create(state=tree.sn, defaults={"district_percent": 30})
    nora = admit(tree.leipzig_sued, date(2026, 1, 5), email="")
    for index, value in enumerate(cents):
        pay(nora, f"{Decimal(value) / 100:.2f}", f"H-{index}-{value}")
    received = shares.dues_received(date(2026, 1, 1), date(2026, 12, 31))
    found = shares.sums(date(2026, 1, 1), date(2026, 12, 31))
    assert found.received == received == sum(Decimal(v) / 100 for v in cents)
    assert found.adds_up
    assert Share.objects.count() == len(cents)
    assert set(Share.objects.values_list("state_id", "district_id")) == {
        (tree.sn.pk, tree.leipzig.pk)  # the local chapter's district
    }


def test_a_returned_payment_takes_back_exactly_its_split(tree, rules):
    SharePolicy.objects.create(state=tree.sn, district_percent=Decimal("33.33"))
    nora = admit(tree.leipzig, date(2026, 1, 5))
    pay(nora, "120.00", "P-1", e2e="E2E-1")
    book(
        entry("120.00", ref="R-1", e2e="E2E-1", credit=False, return_reason="AC04"),
        day=date(2026, 3, 25),
    )
    paid, returned = Share.objects.order_by("booked_on")
    assert (paid.federal_amount, paid.state_amount, paid.district_amount) == (
        Decimal("60.00"),
        Decimal("40.01"),
        Decimal("19.99"),
    )
    assert (returned.federal_amount, returned.state_amount, returned.district_amount) == (
        Decimal("-60.00"),
        Decimal("-40.01"),
        Decimal("-19.99"),
    )
    assert shares.sums(date(2026, 3, 1), date(2026, 3, 31)).received == 0


def test_the_payout_pays_what_is_open_and_locks_it(tree, rules, federal_admin):
    SharePolicy.objects.create(state=tree.sn, district_percent=Decimal(20))
    nora = admit(tree.leipzig, date(2026, 1, 5), email="")
    olga = admit(tree.kiel, date(2026, 1, 5), first_name="Olga", email="")
    pay(nora, "120.00", "P-1", day=date(2026, 8, 3), booked="2026-08-03")
    pay(olga, "72.00", "P-2", day=date(2026, 9, 1), booked="2026-09-01")
    q3 = date(2026, 7, 1)
    rows = {row.code: row.amount for row in shares.payout_rows(q3)}
    assert rows == {"SN": Decimal("48.00"), "SN-L": Decimal("12.00"), "SH": Decimal("36.00")}
    sheet = openpyxl.load_workbook(io.BytesIO(shares.payout_workbook(q3))).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][-1] == "Auszuzahlen (€)"
    assert [row[2] for row in values[1:4]] == ["SN", "SN-L", "SH"]  # the tree's order
    total = next(row for row in values if row[0] == "Summe")[-1]
    ledger = shares.sums(date(2026, 1, 1), date(2026, 9, 30))
    assert Decimal(str(total)) == ledger.state + ledger.district == Decimal("96.00")
    with at(date(2026, 10, 2)):
        payout = shares.record_payout(quarter=q3, state=tree.sn, by=federal_admin)
    assert (payout.state_amount, payout.district_amount) == (Decimal("48.00"), Decimal("12.00"))
    with pytest.raises(ValidationError, match="bereits erfasst"):
        shares.record_payout(quarter=q3, state=tree.sn, by=federal_admin)
    with pytest.raises(ValidationError, match="Nichts"):  # nothing owed: no empty payout
        shares.record_payout(quarter=date(2026, 4, 1), state=tree.sn, by=federal_admin)

    # Paid out: gone from the report; a late booking of the quarter waits for the next one.
    assert {row.code for row in shares.payout_rows(q3)} == {"SH"}
    pay(nora, "10.00", "P-3", day=date(2026, 10, 5), booked="2026-09-30")
    late = Share.objects.get(payment__bank_reference="P-3")
    assert late.payout is None and late.booked_on == date(2026, 9, 30)
    assert payout.shares.count() == 1
    figures = statements.figures(tree.sn, date(2026, 9, 1))
    # Sachsen's statement of September (the payout came in October): the late booking's
    # share this month, both payments' this year, all of it owed at the month's end.
    assert (
        figures["share_month"],
        figures["share_year"],
        figures["share_owed"],
        figures["share_paid_out"],
    ) == ("5.00", "65.00", "65.00", "0.00")
    october = statements.figures(tree.sn, date(2026, 10, 1))
    assert (october["share_owed"], october["share_paid_out"]) == ("5.00", "60.00")


def test_the_federal_treasurer_downloads_the_report_and_records_the_payout(
    client, tree, rules, federal_admin, treasurer_sn
):
    nora = admit(tree.leipzig, date(2026, 1, 5), email="")
    pay(nora, "120.00", "P-1", day=date(2026, 8, 3), booked="2026-08-03")
    client.force_login(treasurer_sn)
    assert client.get("/admin/finance/payout/report/").status_code in (302, 403)
    client.force_login(federal_admin)
    with at(date(2026, 10, 2)):
        page = client.get("/admin/finance/payout/report/", {"quarter": "2026-07-01"}).text
        assert "Landesverband Sachsen" in page and "60,00 €" in page
        xlsx = client.get("/admin/finance/payout/report/xlsx/", {"quarter": "2026-07-01"})
        assert xlsx["Content-Disposition"].endswith('auszahlung-2026-q3.xlsx"')
        url = f"/admin/finance/payout/record/{tree.sn.pk}/?quarter=2026-07-01"
        asked = client.get(url).text
        assert "60,00 €" in asked and not Payout.objects.exists()  # asks before it locks
        client.post(url)
    payout = Payout.objects.get()
    assert (payout.state, payout.quarter, payout.state_amount) == (
        tree.sn,
        date(2026, 7, 1),
        Decimal("60.00"),
    )


SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) not installed; .ci/run installs it"
)
def test_libreoffice_opens_the_payout_report_and_its_sum_is_the_ledgers(tree, rules, tmp_path):
    SharePolicy.objects.create(state=tree.sn, district_percent=Decimal(25))
    nora = admit(tree.leipzig, date(2026, 1, 5), email="")
    olga = admit(tree.kiel, date(2026, 1, 5), first_name="Ölga", email="")
    pay(nora, "120.01", "P-1", day=date(2026, 8, 3), booked="2026-08-03")
    pay(olga, "72.00", "P-2", day=date(2026, 9, 1), booked="2026-09-01")
    source = tmp_path / "auszahlung.xlsx"
    source.write_bytes(shares.payout_workbook(date(2026, 7, 1)))
    result = subprocess.run(  # noqa: S603 - LibreOffice on our own file
        [
            SOFFICE,
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--convert-to",
            "csv:Text - txt - csv (StarCalc):59,34,76",
            str(source),
            "--outdir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = list(
        csv.reader(
            (tmp_path / "auszahlung.csv").read_text(encoding="utf-8").splitlines(), delimiter=";"
        )
    )
    assert [row[2] for row in rows[1:4]] == ["SN", "SN-L", "SH"]
    assert [row[5] for row in rows[1:4]] == ["45.01", "15.00", "36.00"]
    ledger = shares.sums(date(2026, 7, 1), date(2026, 9, 30))
    total = next(row for row in rows if row[0] == "Summe")[5]
    assert Decimal(total) == ledger.state + ledger.district == Decimal("96.01")


@pytest.mark.django_db(transaction=True)
def test_dues_booked_before_the_split_was_recorded_are_not_paid_out_again(tree, rules):
    """Upgrading a database that already holds dues: migration 0018 splits them and ties them
    to a carried-over payout per state, so the first quarterly report offers only new money."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    nora = admit(tree.leipzig, date(2026, 1, 5), email="")
    pay(nora, "120.00", "OLD-1", day=date(2026, 3, 20))
    Share.objects.all().delete()  # as before the split was recorded
    executor = MigrationExecutor(connection)
    executor.migrate([("finance", "0017_contribution_receipts")])
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([("finance", "0018_settle_earlier_shares")])
    share = Share.objects.get()
    assert (share.federal_amount, share.state_amount, share.state_id) == (60, 60, tree.sn.pk)
    payout = share.payout
    assert (payout.carried_over, payout.state_amount) == (True, 60)
    assert shares.payout_rows(date(2026, 7, 1)) == []
    assert shares.split_pending() == 0  # the nightly job finds nothing left to split
