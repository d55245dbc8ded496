"""Data protection in real Chromium: a board looks at a member; the federal office downloads
that member's Art. 15 report from the admin, sees who looked, previews retention and
confirms it, and a state board reads its need-to-know report."""

import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from members import services
from members.models import Member
from privacy.models import RetentionNotice
from tests.browser.test_change_request import log_in
from tests.factories import make_member, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_report_access_log_and_retention(live_server, page: Page, tree, settings):
    settings.MUSTERROLLE_RELAX_MFA = True  # the second factor has its own browser tests
    make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    make_user("bund@example.org", None, None, federal=True, mfa=False)
    ada = make_member(tree.leipzig, first_name="Ada", last_name="Auskunft")
    gone = make_member(tree.dresden, first_name="Frieda", last_name="Früher")
    services.end_membership(by=None, member=gone, on=date(2022, 1, 31), reason="exit")
    today = timezone.localdate()
    RetentionNotice.objects.create(
        member=gone, sent_on=today - timedelta(days=200), due_on=today, channel="email"
    )

    # The board opens Ada's page: that is on the record.
    board = page.context.browser.new_context(locale="de-DE").new_page()
    log_in(board, live_server.url, "vorstand-sn@example.org")
    board.goto(f"{live_server.url}/members/{ada.pk}/")
    expect(board.get_by_role("heading", name="Ada Auskunft")).to_be_visible()

    log_in(page, live_server.url, "bund@example.org")
    page.goto(f"{live_server.url}/admin/members/member/?q=Auskunft")
    page.get_by_role("checkbox", name="Dieses Objekt für eine Aktion").first.check()
    page.locator("select[name=action]").select_option(
        label="Auskunft nach Art. 15 DSGVO: HTML, PDF und JSON"
    )
    with page.expect_download() as download:
        page.get_by_role("button", name="Ausführen").click()
    archive = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes()))
    report = json.loads(archive.read(f"auskunft-{ada.membership_number}.json"))
    seen = next(s for s in report["sections"] if s["key"] == "access_log")
    assert {r["wer"] for r in seen["records"]} == {"vorstand-sn"}  # the page and its parts

    page.goto(f"{live_server.url}/admin/members/member/{ada.pk}/change/")
    page.get_by_role("link", name="Zugriffsprotokoll").first.click()
    expect(page.get_by_role("cell", name="Mitgliedsseite").first).to_be_visible()

    page.goto(f"{live_server.url}/privacy/retention/")
    expect(page.get_by_role("cell", name="anonymisiert", exact=True)).to_be_visible()
    page.get_by_label("Ich habe die Vorschau geprüft").check()
    page.get_by_role("button", name="Bestätigen").click()
    expect(page.get_by_text("1 anonymisiert")).to_be_visible()
    assert Member.objects.get(pk=gone.pk).last_name == "anonymisiert"
    assert Member.objects.get(pk=ada.pk).last_name == "Auskunft"

    board.goto(f"{live_server.url}/")
    board.get_by_role("link", name="Datenschutz").click()
    expect(board.get_by_role("link", name="Kreisverband Leipzig")).to_be_visible()
    board.get_by_label("Mitgliedsnummer").fill(str(ada.membership_number))
    board.get_by_role("button", name="Anzeigen").click()
    expect(board.get_by_text("kann von 2 Personen gesehen werden")).to_be_visible()
