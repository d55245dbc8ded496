"""Workbooks built to cost minutes and gigabytes are refused in milliseconds, with a message a
board member understands, by every way a spreadsheet comes in: the board's upload, the
federal office's command and the bank file upload (which shares the reader)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from finance.models import BankStatement
from members import spreadsheets
from members.models import ImportBatch, Member
from tests.members import hostile
from tests.members.sheets import workbook_bytes


def csv_bytes(text):
    return text.encode("utf-8")


pytestmark = pytest.mark.django_db

TOO_LARGE = "inneren Teile sind zu groß"


@pytest.fixture
def small_limits():
    """The limits as they are, but the sheet part's lowered: an honest sheet over it stays
    cheap to build in a test (the real one is 150 MB)."""
    with spreadsheets.limits(spreadsheets.Limits(sheet_part=2 * 1024 * 1024)):
        yield


HOSTILE = {
    "one row of a hundred thousand cells": (
        lambda: hostile.one_row_of_many_cells(100_000),
        "mehr als 1.000 Zellen",
    ),
    "a huge shared-strings part": (lambda: hostile.huge_shared_strings(30), TOO_LARGE),
    "a huge styles part": (lambda: hostile.huge_styles(6), TOO_LARGE),
    "an honest sheet beyond the limit": (lambda: hostile.honest_big_sheet(3), TOO_LARGE),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_the_boards_upload_refuses_a_hostile_workbook_with_a_reason(
    client, tree, board_sn, small_limits, django_capture_on_commit_callbacks, name
):
    make, message = HOSTILE[name]
    client.force_login(board_sn)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("members:import_new", args=[tree.sn.pk]),
            {"file": SimpleUploadedFile("mitglieder.xlsx", make())},
        )
    batch = ImportBatch.objects.get()
    assert (batch.status, batch.total_rows) == (ImportBatch.Status.FAILED, 0)
    assert message in batch.error
    page = client.get(response.url)
    assert message in page.text


@pytest.mark.parametrize("name", HOSTILE)
def test_the_command_refuses_a_hostile_workbook(
    tree, federal_admin, small_limits, tmp_path, capsys, name
):
    make, message = HOSTILE[name]
    path = tmp_path / "liste.xlsx"
    path.write_bytes(make())
    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_members", str(path), "--division", "SN", "--apply")
    assert message in capsys.readouterr().out
    assert not Member.objects.exists()


@pytest.mark.parametrize("name", HOSTILE)
def test_the_bank_upload_refuses_a_hostile_workbook(
    client, tree, federal_admin, small_limits, django_capture_on_commit_callbacks, name
):
    make, message = HOSTILE[name]
    client.force_login(federal_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:finance_bankstatement_upload"),
            {"file": SimpleUploadedFile("umsaetze.csv", make())},
        )
    page = client.get(response.url)
    assert page.context["upload"].status == "failed"
    assert message in page.text
    assert not BankStatement.objects.exists()


def test_a_workbook_that_declares_entities_is_refused():
    sheet = (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>'
        f'<worksheet xmlns="{hostile.MAIN}"><sheetData>{hostile.HEADER_ROW}</sheetData></worksheet>'
    )
    with pytest.raises(spreadsheets.SpreadsheetError, match="keine gültige"):
        spreadsheets.read(hostile.workbook(sheet=[sheet.encode()]), "liste.xlsx")


def test_a_plain_workbook_still_reads():
    rows = spreadsheets.read(workbook_bytes([["Erika", "Muster"]], title=None), "a.xlsx")
    assert rows[-1][:2] == ["Erika", "Muster"]


def test_the_error_list_is_built_from_the_rows_kept_at_the_check(
    client, tree, board_sn, django_capture_on_commit_callbacks
):
    """Nothing reads the upload again: the file could be gone, the error list is the same."""
    from openpyxl import load_workbook

    content = csv_bytes("Vorname;Nachname;PLZ\nErika;Muster;123\nOtto;Normal;04109\n")
    client.force_login(board_sn)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("members:import_new", args=[tree.sn.pk]),
            {"file": SimpleUploadedFile("mitglieder.csv", content)},
        )
    batch = ImportBatch.objects.get()
    ImportBatch.objects.filter(pk=batch.pk).update(content=b"not a workbook any more")
    response = client.get(reverse("members:import_errors", args=[batch.pk]))
    rows = list(load_workbook(__import__("io").BytesIO(response.content)).active.values)
    assert [row[:3] for row in rows] == [
        ("Vorname", "Nachname", "PLZ"),
        ("Erika", "Muster", "123"),
        ("Otto", "Normal", "04109"),
    ]
    assert rows[1][3] and not rows[2][3]  # the error is on Erika's row only
