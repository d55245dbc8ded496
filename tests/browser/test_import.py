"""A board member takes a messy legacy sheet through upload, mapping, preview and submission."""

import re

import pytest
from playwright.sync_api import Page, expect

from members.models import ChangeRequest, ImportBatch
from tests.factories import PASSWORD, make_user
from tests.members.sheets import workbook_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_board_imports_a_messy_sheet(live_server, page: Page, tree, settings, tmp_path):
    settings.MUSTERROLLE_RELAX_MFA = True  # the second factor has its own browser tests
    board = make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    # The phone numbers sit in a column titled "Bemerkung" that the import cannot recognise.
    rows = [
        [
            None,
            "Jörg",
            "Müller",
            "Hauptstr. 1",
            4109,
            "Leipzig",
            "joerg@example.org",
            None,
            "01.02.1980",
            "01.03.2024",
            "SN-L",
            "ermäßigt",
            "0341 1234",
        ],
        [
            None,
            "Änne",
            "Weiß",
            "Am Markt 2",
            "01067",
            "Dresden",
            "",
            None,
            "1.2.79",
            "15.3.21",
            "SN-DD",
            "regulär",
            "0351 5678",
        ],
    ]
    sheet = tmp_path / "Mitglieder KV.xlsx"
    sheet.write_bytes(workbook_bytes(rows))
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-Mail").fill(board.email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden", exact=True).click()
    page.goto(f"{base}/divisions/{tree.sn.pk}/members/")
    page.get_by_role("link", name="Importieren").click()
    page.get_by_label("Tabelle").set_input_files(str(sheet))
    page.get_by_role("button", name="Hochladen und prüfen").click()

    expect(page.get_by_role("heading", name="Mitglieder KV.xlsx")).to_be_visible()
    page.get_by_text("Spaltenzuordnung").click()
    remark = page.get_by_label("Bemerkung")
    expect(remark).to_have_value("")
    remark.select_option("phone")
    page.get_by_role("button", name="Zuordnung übernehmen und neu prüfen").click()

    expect(page.locator(".card", has_text="neu").locator(".fs-3").first).to_have_text("2")
    batch = ImportBatch.objects.get()
    assert batch.mapping["12"] == "phone"
    assert [r["values"]["phone"] for r in batch.report] == ["0341 1234", "0351 5678"]
    page.get_by_role("button", name="Bei der Bundesgeschäftsstelle einreichen").click()
    expect(
        page.get_by_text(
            re.compile("2 Änderungsanträge sind an die Bundesgeschäftsstelle gegangen")
        )
    ).to_be_visible()
    assert ChangeRequest.objects.filter(batch=batch, kind="entry").count() == 2
