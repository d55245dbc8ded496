"""Exports: a stated purpose, logged; German headers and dates; safe cells; a lossless round trip."""

import csv
import io
import shutil
import subprocess
from datetime import date

import pytest
from django.urls import reverse
from openpyxl import load_workbook

from members import imports
from members.models import AuditEntry, ExportLog
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def export(
    client, division, file_format, purpose="Einladung zur Kreismitgliederversammlung", **filters
):
    url = reverse("members:member_export", args=[division.pk])
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    return client.post(f"{url}?{query}", {"purpose": purpose, "file_format": file_format})


def content(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_export_needs_a_purpose_and_is_logged(client, tree, board_sn):
    make_member(tree.leipzig)
    make_member(tree.kiel)  # another state: never exported
    client.force_login(board_sn)
    response = export(client, tree.sn, "csv", purpose="")
    assert response.status_code == 200
    assert "purpose" in response.context["form"].errors
    assert not ExportLog.objects.exists()
    response = export(client, tree.sn, "csv", fee_class="regular")
    assert response.status_code == 200
    log = ExportLog.objects.get()
    assert (log.exported_by, log.rows, log.filters, log.file_format) == (
        board_sn,
        1,
        {"fee_class": "regular"},
        "csv",
    )
    assert AuditEntry.objects.filter(action="members.exported", object_id=str(log.pk)).exists()


def test_csv_has_german_headers_and_dates_and_neutralised_cells(client, tree, board_sn):
    make_member(
        tree.leipzig,
        first_name='=HYPERLINK("x")',
        last_name="Müller",
        date_of_birth=date(1980, 2, 1),
        joined_on=date(2019, 3, 4),
        phone="+49 341 1",
    )
    client.force_login(board_sn)
    text = content(export(client, tree.sn, "csv")).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:4] == ["Mitgliedsnummer", "Vorname", "Nachname", "Straße"]
    assert rows[1][1] == '\'=HYPERLINK("x")'
    assert rows[1][7] == "'+49 341 1"
    assert (rows[1][8], rows[1][9]) == ("01.02.1980", "04.03.2019")
    assert (rows[1][10], rows[1][11], rows[1][12]) == ("SN-L", "regulär", "schwebend")


def test_xlsx_cells_are_text_and_dates_are_dates(client, tree, board_sn):
    make_member(
        tree.leipzig, first_name="@SUM(1)", postal_code="04109", date_of_birth=date(1980, 2, 1)
    )
    client.force_login(board_sn)
    response = export(client, tree.sn, "xlsx")
    sheet = load_workbook(io.BytesIO(content(response))).active
    header, row = list(sheet.iter_rows(values_only=True))[:2]
    assert header[1] == "Vorname"
    assert row[1] == "'@SUM(1)"
    assert row[4] == "04109"  # still a text with its leading zero
    assert row[8].date() == date(1980, 2, 1)
    assert sheet.cell(row=2, column=9).number_format == "DD.MM.YYYY"


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_export_then_import_changes_nothing(client, tree, board_sn, file_format):
    for i in range(5):
        make_member(
            [tree.leipzig, tree.dresden, tree.leipzig_sued][i % 3],
            first_name=f"=Vor{i}",
            last_name=f"Nach-{i}",
            postal_code="01067",
            date_of_birth=date(1970 + i, 1, 2),
            fee_class=["regular", "reduced", "exempt"][i % 3],
            phone=f"0341 {i}",
        )
    client.force_login(board_sn)
    exported = content(export(client, tree.sn, file_format))
    batch = imports.create_batch(
        by=board_sn, division=tree.sn, content=exported, filename=f"export.{file_format}"
    )
    batch = imports.check_batch(batch_id=batch.pk)
    assert [r["errors"] for r in batch.report] == [[]] * 5
    assert (batch.new, batch.changed, batch.unchanged, batch.errors) == (0, 0, 5, 0)


def test_a_treasurer_may_export_but_a_mailing_sender_may_not(client, tree):
    from tests.factories import make_user

    sender = make_user("versand@example.org", tree.sn, "mailing_sender")
    client.force_login(sender)
    assert client.get(reverse("members:member_export", args=[tree.sn.pk])).status_code == 404


SOFFICE = shutil.which("soffice")


@pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice (soffice) not installed; .ci/run installs it"
)
def test_libreoffice_opens_the_export_as_it_was_meant(client, tree, board_sn, tmp_path):
    make_member(
        tree.dresden,
        first_name='=WEBSERVICE("x")',
        last_name="Weiß",
        postal_code="01067",
        date_of_birth=date(1980, 2, 1),
    )
    client.force_login(board_sn)
    source = tmp_path / "export.xlsx"
    source.write_bytes(content(export(client, tree.sn, "xlsx")))
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
            (tmp_path / "export.csv").read_text(encoding="utf-8").splitlines(), delimiter=";"
        )
    )
    assert (rows[1][1], rows[1][2], rows[1][4]) == ('\'=WEBSERVICE("x")', "Weiß", "01067")
    assert rows[1][8] == "01.02.1980"


def test_a_broken_filter_stops_the_export(client, tree, board_sn):
    make_member(tree.leipzig)
    client.force_login(board_sn)
    response = client.post(
        f"{reverse('members:member_export', args=[tree.sn.pk])}?division=99999",
        {"purpose": "Versand", "file_format": "csv"},
    )
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not ExportLog.objects.exists()


# Every way a cell can begin that a spreadsheet would read as a formula (or that hides one
# behind a tab or a carriage return).
FORMULA_STARTS = ["=1+1", "+49 341 1", "-2+3", "@SUM(1)", "\t=1+1", "\r=1+1"]


def test_exports_and_the_import_error_list_neutralise_every_formula_start(client, tree, board_sn):
    for n, value in enumerate(FORMULA_STARTS):
        make_member(tree.leipzig, first_name=value, last_name=f"Formel{n}")
    client.force_login(board_sn)
    text = content(export(client, tree.sn, "csv")).decode("utf-8-sig")
    exported = {row[2]: row[1] for row in csv.reader(io.StringIO(text, newline=""), delimiter=";")}
    assert [exported[f"Formel{n}"] for n in range(len(FORMULA_STARTS))] == [
        "'" + value for value in FORMULA_STARTS
    ]

    lines = ["Vorname;Nachname"] + [
        f'"{value}";Formel{n}' for n, value in enumerate(FORMULA_STARTS)
    ]
    batch = imports.create_batch(
        by=board_sn, division=tree.sn, content="\n".join(lines).encode(), filename="f.csv"
    )
    imports.check_batch(batch_id=batch.pk)
    errors = client.get(reverse("members:import_errors", args=[batch.pk]))
    sheet = load_workbook(io.BytesIO(errors.content)).active
    first_names = [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
    # openpyxl writes through lxml, which keeps a carriage return as a character reference.
    assert first_names == ["'" + value for value in FORMULA_STARTS]
