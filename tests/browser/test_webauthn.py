"""A security key (WebAuthn) counts as the second factor, registered in real Chromium."""

import re

import pytest
from allauth.mfa.models import Authenticator
from django.urls import reverse
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_board_member_registers_a_security_key_and_then_opens_roles(live_server, page: Page, tree):
    user = make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    # WebAuthn needs a host name, not an IP address.
    base = live_server.url.replace("127.0.0.1", "localhost")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )

    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-Mail").fill(user.email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden", exact=True).click()
    # Without a second factor the roles page sends the user to set one up.
    page.goto(f"{base}{reverse('members:division_roles', args=[tree.sn.pk])}")
    expect(page).to_have_url(re.compile(r"/accounts/2fa/$"))
    expect(page.get_by_text("zweiten Faktor")).to_be_visible()

    page.goto(f"{base}{reverse('mfa_add_webauthn')}")
    if "reauthenticate" in page.url:
        page.get_by_label("Passwort").fill(PASSWORD)
        page.get_by_role("button", name="Bestätigen").click()
        expect(page).to_have_url(re.compile(r"/webauthn/add/"))
    page.get_by_label("Name").fill("Mein Schlüssel")
    page.wait_for_load_state("load")
    page.get_by_role("button", name="Hinzufügen").click()
    page.wait_for_url(lambda url: "/webauthn/add/" not in url)

    assert Authenticator.objects.filter(user=user, type=Authenticator.Type.WEBAUTHN).count() == 1
    page.goto(f"{base}{reverse('members:division_roles', args=[tree.sn.pk])}")
    expect(page.get_by_role("heading", name="Rollen", exact=True)).to_be_visible()
