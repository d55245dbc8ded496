"""A state convention in real Chromium: the Sachsen board creates it, sends the invitation
(freezing the list), sees who may vote and why not, computes the districts' delegate seats,
and checks members in on a phone, one check-in surviving a dropped connection."""

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from assemblies.models import Assembly, Attendance
from finance.models import Charge
from members import services
from tests.browser.test_change_request import log_in
from tests.factories import make_member, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _member(division, **values):
    member = make_member(division, **values)
    services.activate_members([member.pk], reason="first dues", on=date(2020, 1, 1))
    return member


def test_state_convention_from_creation_to_the_door(live_server, page: Page, tree, settings):
    settings.MUSTERROLLE_RELAX_MFA = True  # the second factor has its own browser tests
    make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    erika = _member(tree.leipzig, first_name="Erika", last_name="Mustermann")
    _member(tree.leipzig_sued, first_name="Jörg", last_name="Brückner", email="")
    _member(tree.dresden, first_name="Dana", last_name="Dresdner")
    owing = _member(tree.dresden, first_name="Olaf", last_name="Offen")
    Charge.objects.create(
        member=owing,
        year=2026,
        amount=Decimal("120.00"),
        due_on=date(2026, 3, 1),
        overdue_on=date(2026, 3, 31),
    )
    starts = timezone.localtime() + timedelta(days=70)

    log_in(page, live_server.url, "vorstand-sn@example.org")
    page.get_by_role("link", name="Versammlungen").click()
    page.get_by_role("link", name="Neue Versammlung").click()
    page.get_by_label("Gliederung").select_option(label="Landesverband Sachsen (SN)")
    page.get_by_label("Art").select_option(label="Parteitag")
    page.get_by_label("Bezeichnung").fill("Landesparteitag Sachsen 2027")
    page.get_by_label("Beginn").fill(starts.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Ort").fill("Messe Leipzig")
    page.get_by_label("Stichtag").fill(timezone.localdate().isoformat())
    page.get_by_label("Tagesordnung").fill("1. Eröffnung\n2. Wahlen")
    page.get_by_role("button", name="Speichern").click()
    expect(page.get_by_role("heading", name="Landesparteitag Sachsen 2027")).to_be_visible()

    page.get_by_role("link", name="Einladung verschicken").click()
    page.get_by_role("button", name="Liste festschreiben und Einladung verschicken").click()
    expect(
        page.get_by_text("Die Liste ist festgeschrieben und die Einladung unterwegs")
    ).to_be_visible()
    page.get_by_role("link", name="1", exact=True).click()  # not eligible
    expect(page.get_by_text("Beitragsrückstand von 120,00 € seit 31.03.2026")).to_be_visible()

    page.get_by_role("link", name="Landesparteitag Sachsen 2027").click()
    page.get_by_role("link", name="Delegiertensitze").click()
    page.get_by_label("Delegiertensitze").fill("5")
    page.get_by_label("Verfahren").select_option(label="Sainte-Laguë/Schepers")
    page.get_by_label("Mindestens ein Sitz je Untergliederung").check()
    page.get_by_role("button", name="Berechnen").click()
    expect(page.get_by_role("cell", name="Grundmandat").first).to_be_visible()

    assembly = Assembly.objects.get()
    phone = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, locale="de-DE", is_mobile=True, has_touch=True
    )
    door = phone.new_page()
    door.set_default_timeout(10_000)
    log_in(door, live_server.url, "vorstand-sn@example.org")
    door.goto(f"{live_server.url}/assemblies/{assembly.pk}/checkin/")
    expect(door.locator("#eligible-present")).to_have_text("0")
    door.get_by_label("Name oder Mitgliedsnummer").fill("offen")
    door.get_by_role("button", name="Suchen").click()
    expect(door.get_by_text("nicht stimmberechtigt")).to_be_visible()

    door.get_by_label("Name oder Mitgliedsnummer").fill(str(erika.membership_number))
    door.get_by_role("button", name="Suchen").click()
    # Wait for the new list and its script: a click on the previous page's button, or one
    # before the script took over the form, would not be the check-in this test is about.
    expect(door).to_have_url(re.compile(rf"q={erika.membership_number}"))
    door.wait_for_load_state("load")
    # The first attempt dies on the way (the hall's Wi-Fi); the page sends it again.
    dropped = []

    def flaky(route):
        if not dropped:
            dropped.append(route.request.url)
            route.abort("internetdisconnected")
        else:
            route.continue_()

    door.route("**/checkin/*/", flaky)
    door.get_by_role("button", name="Als anwesend eintragen").click()
    expect(door.get_by_role("button", name="anwesend", exact=True)).to_be_visible()
    expect(door.locator("#eligible-present")).to_have_text("1")
    assert dropped and Attendance.objects.filter(member=erika, eligible=True).count() == 1
    phone.close()
