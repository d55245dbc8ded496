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
    page.get_by_text("Spaltenzuordnung", exact=True).click()
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


def test_board_fixes_the_values_of_a_messy_sheet_in_one_step(
    live_server, page: Page, tree, settings, tmp_path, screenshots
):
    """Divisions as people write them, one of them ambiguous, an amount the fee rules do not
    know, entry dates without a day, and a member whose address changed: one round in the
    value step, then the preview with its diff, then the submission."""

    from members.models import DivisionLevel
    from tests.factories import add, make_fee_rules, make_member

    settings.MUSTERROLLE_RELAX_MFA = True
    add("Stadtverband Leipzig", "SN-L-SV", DivisionLevel.DISTRICT, tree.sn)
    make_fee_rules(tiers="72,120,180,240", classes=("regular", "reduced"))
    known = make_member(tree.dresden, first_name="Otto", last_name="Normal", street="Alte Str. 1")
    board = make_user("vorstand-sn@example.org", tree.sn, "board", mfa=False)
    sheet = tmp_path / "Liste Sachsen.csv"
    sheet.write_bytes(
        (
            "Mitgl.-Nr.;Vorname;Name;Str.;Hausnr.;Eintritt;KV;Beitrag\n"
            f"{known.membership_number};Otto;Normal;Neue Str.;5;03/2019;KV Dresden;120 €\n"
            ";Anna;Alt;Ring;1;04/2020;Leipzig;48 €\n"
            ";Bert;Bach;Weg;2;05/2021;KV DRESDEN;ermäßigt\n"
            ";Summe: 3;;;;;;\n"
        ).encode("cp1252")
    )
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-Mail").fill(board.email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden", exact=True).click()
    page.goto(f"{base}/divisions/{tree.sn.pk}/imports/new/")
    page.get_by_label("Tabelle").set_input_files(str(sheet))
    page.get_by_role("button", name="Hochladen und prüfen").click()

    expect(page.get_by_role("heading", name="Liste Sachsen.csv")).to_be_visible()
    expect(page.locator(".card", has_text="Zeilen mit Fehlern").locator(".fs-3")).to_have_text("3")
    values = page.locator("#value-step")
    expect(values).to_have_attribute("open", "")
    page.screenshot(path=screenshots / "import-values-open.png", full_page=True)
    page.get_by_label("Leipzig").fill("SN-L")
    page.get_by_label("48 €").select_option("reduced")
    page.get_by_label(re.compile("Daten ohne Tag")).select_option("first")
    page.get_by_role("button", name="Werte übernehmen und neu prüfen").click()

    expect(page.locator(".card", has_text="Zeilen mit Fehlern").locator(".fs-3")).to_have_text("0")
    expect(page.locator(".card", has_text="neu").locator(".fs-3").first).to_have_text("2")
    changes = page.get_by_role("row", name=re.compile("Otto Normal"))
    expect(changes.first).to_contain_text("Neue Str. 5")  # the diff of the known member
    expect(changes.first).not_to_contain_text("Beitrag")  # 120 € is the regular amount
    expect(page.locator("#value-step .badge")).to_have_count(0)  # nothing left to decide
    expect(page.locator("#not-imported-rows")).to_contain_text("Summe: 3")
    page.screenshot(path=screenshots / "import-values-decided.png", full_page=True)
    page.get_by_role("button", name="Bei der Bundesgeschäftsstelle einreichen").click()
    expect(page.get_by_text(re.compile("3 Änderungsanträge sind"))).to_be_visible()
    batch = ImportBatch.objects.get()
    entries = {
        r.proposed["first_name"]: r for r in ChangeRequest.objects.filter(batch=batch, kind="entry")
    }
    assert (entries["Anna"].division.code, entries["Anna"].proposed["fee_class"]) == (
        "SN-L",
        "reduced",
    )
    assert entries["Bert"].division.code == "SN-DD"
    # The answers are remembered for the division's next upload.
    from members.models import ImportValueChoice

    assert set(ImportValueChoice.objects.values_list("field", "key", "choice")) >= {
        ("fee_class", "48 €", "reduced"),
    }
