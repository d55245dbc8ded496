"""Member lists to .xlsx and .csv: German headers and dates, constant memory, safe cells."""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterable, Iterator
from datetime import date
from typing import IO, Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from members import access_log, services
from members.models import AccessKind, Division, ExportLog, Member, User
from members.models.register import payment_reference
from members.spreadsheets import neutralise

CHUNK = 2000
COLUMNS = [
    ("membership_number", "Mitgliedsnummer"),
    ("first_name", "Vorname"),
    ("last_name", "Nachname"),
    ("street", "Straße"),
    ("postal_code", "PLZ"),
    ("city", "Ort"),
    ("email", "E-Mail"),
    ("phone", "Telefon"),
    ("date_of_birth", "Geburtsdatum"),
    ("joined_on", "Eintritt"),
    ("division", "Gliederung"),
    ("fee_class", "Beitragsklasse"),
    ("status", "Status"),
]
# For those who may see finances (treasurers, boards): what the member owes and the
# reference to pay it with. Not read back by the import.
FINANCE_COLUMNS = [
    ("payment_status", "Zahlungsstatus"),
    ("balance", "Saldo (€)"),
    ("reference", "Verwendungszweck"),
]


def columns(finance: bool) -> list[tuple[str, str]]:
    return COLUMNS + FINANCE_COLUMNS if finance else COLUMNS


PAYMENT_LABELS = {
    "paid_up": "bezahlt",
    "due": "fällig (Zahlungsfrist)",
    "in_arrears": "im Rückstand",
    "exempt": "befreit",
}
FEE_LABELS = {
    "regular": "regulär",
    "reduced": "ermäßigt",
    "minor": "minderjährig",
    "exempt": "befreit",
}
STATUS_LABELS = {"pending": "schwebend", "active": "aktiv", "ended": "beendet"}


def _rows(members: QuerySet[Member], finance: bool) -> Iterator[list[Any]]:
    fields = [name for name, _label in columns(finance) if name not in {"division", "reference"}]
    year = timezone.localdate().year
    for member in (
        members.select_related("division")
        .only(*fields, "division__code")
        .iterator(chunk_size=CHUNK)
    ):
        yield [
            member.membership_number,
            neutralise(member.first_name),
            neutralise(member.last_name),
            neutralise(member.street),
            member.postal_code,
            neutralise(member.city),
            neutralise(member.email),
            neutralise(member.phone),
            member.date_of_birth,
            member.joined_on,
            member.division.code,
            FEE_LABELS[member.fee_class],
            STATUS_LABELS[member.status],
        ] + (
            [
                PAYMENT_LABELS[member.payment_status],
                member.balance,
                payment_reference(member.membership_number, year),
            ]
            if finance
            else []
        )


class Echo:
    """A file that hands back what is written: csv.writer then yields lines to stream."""

    def write(self, value: str) -> str:
        return value


@transaction.atomic
def log_export(
    *,
    by: User,
    division: Division,
    purpose: str,
    filters: dict[str, str],
    file_format: str,
    rows: int,
    member_ids: Iterable[int],
) -> ExportLog:
    """Every export is on the record before its first byte leaves: who, why, what, how many,
    and, in the access log, which members (so that "who saw member X" finds it)."""
    ids = list(member_ids)
    rows = rows or len(ids)
    log = ExportLog.objects.create(
        exported_by=by,
        division=division,
        purpose=purpose,
        filters=filters,
        file_format=file_format,
        rows=rows,
    )
    services.record_audit(
        actor=by,
        action="members.exported",
        obj=log,
        division=division,
        summary=f"{rows} members exported: {purpose}",
        data={"filters": filters},
    )
    access_log.record(
        by,
        AccessKind.EXPORT,
        path=f"export {log.pk} ({file_format})",
        count=len(ids),
        detail=purpose,
        member_ids=ids,
    )
    return log


def csv_lines(members: QuerySet[Member], *, finance: bool = False) -> Iterator[str]:
    """CSV as German spreadsheets expect it: semicolons, dd.mm.yyyy, a BOM for Excel; the
    finance columns only for those who may see them."""
    writer = csv.writer(Echo(), delimiter=";")
    yield "\ufeff" + writer.writerow([label for _name, label in columns(finance)])
    for row in _rows(members, finance):
        yield writer.writerow([date_format(v, "d.m.Y") if isinstance(v, date) else v for v in row])


def xlsx_file(members: QuerySet[Member], *, finance: bool = False) -> tuple[IO[bytes], int]:
    """Write the workbook row by row into a temporary file (openpyxl's write-only mode)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Members"))
    sheet.append([label for _name, label in columns(finance)])
    count = 0
    for row in _rows(members, finance):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, date):
                cell.number_format = "DD.MM.YYYY"
            elif isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever the text
            cells.append(cell)
        sheet.append(cells)
        count += 1
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the response closes it after streaming
    workbook.save(handle)
    handle.seek(0)
    return handle, count
