"""The Sachsen board finds a member and asks for an address change; the federal office
approves it in the admin; the board sees the new address. In real Chromium."""

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_member, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-Mail").fill(email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden", exact=True).click()


def test_address_change_from_search_to_approval(live_server, page: Page, tree, settings):
    settings.MUSTERROLLE_RELAX_MFA = True  # the second factor has its own browser tests
    board = make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    make_user("bund@example.org", None, None, federal=True, mfa=False)
    make_member(
        tree.leipzig,
        first_name="Jörg",
        last_name="Brückner",
        street="Alte Gasse 1",
        postal_code="04109",
    )
    make_member(tree.dresden, first_name="Jana", last_name="Bauer")
    base = live_server.url

    log_in(page, base, board.email)  # one division: its dashboard opens at once
    page.get_by_role("link", name="Mitglieder", exact=True).click()
    page.wait_for_load_state("load")
    with page.expect_response(
        lambda r: "q=br" in r.url and r.request.headers.get("hx-request") == "true"
    ):
        page.get_by_label("Suche").fill("brück")
    results = page.locator("#member-results tbody tr")
    expect(results).to_have_count(1)
    results.get_by_role("link", name="Brückner, Jörg").click()

    page.get_by_role("button", name="Änderung beantragen").click()
    page.get_by_role("link", name="Änderung von Kontakt oder Anschrift").click()
    page.get_by_label("Straße und Hausnummer").fill("Karl-Liebknecht-Straße 12")
    page.get_by_role("button", name="Antrag senden").click()
    expect(page.get_by_text("an die Bundesgeschäftsstelle gegangen")).to_be_visible()
    member_url = page.url
    page.context.clear_cookies()

    log_in(page, base, "bund@example.org")
    page.goto(f"{base}/admin/members/changerequest/")
    page.locator("#result_list tbody th a").first.click()
    expect(page.get_by_text("Karl-Liebknecht-Straße 12").first).to_be_visible()
    page.get_by_role("button", name="Genehmigen und übernehmen").click()
    expect(page.get_by_text("Der Antrag wurde übernommen.")).to_be_visible()
    page.context.clear_cookies()

    log_in(page, base, board.email)
    page.goto(member_url)
    address = page.locator("dt", has_text="Anschrift").locator("xpath=following-sibling::dd[1]")
    expect(address).to_contain_text("Karl-Liebknecht-Straße 12")
    expect(address).to_contain_text("04109 Leipzig")
    expect(page.locator(".badge.request-applied")).to_have_text("übernommen")
