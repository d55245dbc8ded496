"""A person logs in with password and TOTP in real Chromium and sees the German dashboard."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, enable_totp, make_user
from tests.members.test_accounts import current_totp

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_board_member_logs_in_with_totp_and_sees_the_german_dashboard(
    live_server, page: Page, tree, screenshots
):
    user = make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    secret = enable_totp(user)

    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/"))
    expect(page.locator("html")).to_have_attribute("lang", "de")
    page.get_by_label("E-Mail").fill(user.email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden", exact=True).click()

    expect(page).to_have_url(re.compile(r"/accounts/2fa/authenticate/"))
    page.get_by_label("Code").fill(current_totp(secret))
    page.get_by_role("button", name=re.compile("Anmelden|Anmeldung|Bestätigen")).click()

    # One division: the start page leads straight to its dashboard.
    expect(page).to_have_url(
        f"{live_server.url}{reverse('members:division_detail', args=[tree.sn.pk])}"
    )
    expect(page.get_by_role("heading", name="Landesverband Sachsen")).to_be_visible()
    page.screenshot(path=str(screenshots / "dashboard.png"), full_page=True)
    expect(page.get_by_role("link", name="Kreisverband Leipzig")).to_be_visible()
