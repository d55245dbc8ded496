"""The federal office's money flows in real Chromium: the annual contribution receipts (a
dry run, then issue and send, watched on the run's page) and a quarter's payout to a state
(the report, then the payout recorded after a confirmation). Tasks run eagerly here."""

from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from finance import shares
from finance.models import ContributionReceipt, Payout
from tests.browser.test_change_request import log_in
from tests.factories import make_user
from tests.finance.statements import entry
from tests.finance.test_year_rules import admit, book
from tests.finance.test_year_rules import rules as rules  # the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_receipts_and_a_payout_in_the_admin(live_server, page: Page, tree, rules, settings):
    settings.MUSTERROLLE_RELAX_MFA = True  # the second factor has its own browser tests
    make_user("bund@example.org", None, None, federal=True, mfa=False)
    today = timezone.localdate()
    last_year = today.year - 1
    quarter, quarter_end = shares.quarter_of(shares.quarter_of(today)[0] - timedelta(days=1))
    nora = admit(tree.leipzig, date(last_year, 1, 5))
    jörg = admit(tree.dresden, date(last_year, 1, 5), first_name="Jörg", email="")
    n, j = nora.membership_number, jörg.membership_number
    book(
        entry("120.00", ref="N1", reference=f"MB{last_year} {n}", booked=f"{last_year}-03-03"),
        entry("72.00", ref="J1", reference=f"MB{last_year} {j}", booked=f"{last_year}-03-04"),
        day=date(last_year, 3, 4),
        name="last-year",
    )
    paid_on = quarter + timedelta(days=20)
    book(
        entry("120.00", ref="N2", reference=f"MB{today.year} {n}", booked=paid_on.isoformat()),
        day=paid_on,
        name="this-year",
    )

    log_in(page, live_server.url, "bund@example.org")
    page.goto(f"{live_server.url}/admin/finance/receiptrun/new/")
    page.get_by_role("button", name="Probelauf").click()
    progress = page.locator("#receipt-run-progress")
    expect(progress).to_have_attribute("data-status", "done")
    expect(progress).to_contain_text("Neue Bestätigungen (würden ausgestellt)")
    page.get_by_role("button", name="2 Bestätigungen jetzt ausstellen und versenden").click()
    expect(progress).to_have_attribute("data-status", "done")
    expect(progress).to_contain_text("Per Brief (Druckdatei)")
    assert sorted(
        ContributionReceipt.objects.values_list("member__first_name", "dues", "channel")
    ) == [("Jörg", 72, "letter"), ("Nora", 120, "email")]
    expect(page.get_by_role("link", name="Teil 1 (PDF)")).to_be_visible()

    page.goto(f"{live_server.url}/admin/finance/payout/")
    page.get_by_role("link", name="Quartalsbericht Auszahlungen").click()
    # Sachsen's half of everything booked up to the quarter's end: 192 € last year, 120 € now.
    expect(page.locator("tfoot")).to_contain_text("156,00 €")
    page.get_by_role("link", name="Auszahlung erfassen …").click()
    expect(
        page.get_by_text("Landesverband Sachsen und seine Kreisverbände 156,00 €")
    ).to_be_visible()
    assert not Payout.objects.exists()  # asked first
    page.get_by_role("button", name="Auszahlung erfassen").click()
    expect(page.get_by_text("Die ausgezahlten Anteile sind jetzt gesperrt.")).to_be_visible()
    payout = Payout.objects.get()
    assert (payout.state, payout.quarter, payout.state_amount) == (tree.sn, quarter, 156)
    expect(page.get_by_text("Für dieses Quartal ist nichts auszuzahlen")).to_be_visible()
    assert quarter_end >= paid_on
