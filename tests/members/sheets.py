"""Messy legacy spreadsheets, built here with openpyxl: every mess the import must survive."""

from __future__ import annotations

import io
import zipfile
from datetime import date

from openpyxl import Workbook

HEADER = [
    "Mitgl.-Nr.",
    "Vorname",
    "Name",
    "Str.",
    "PLZ",
    "Wohnort",
    "E-Mail ",
    "Telefon",
    "Geb.-Datum",
    "Eintritt",
    "KV",
    "Beitrag",
    "Bemerkung",
]


def workbook_bytes(
    rows: list[list[object]], *, title: str | None = "Mitgliederliste KV Leipzig, Stand 2019"
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
        sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=6)
        sheet.append([])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def messy_rows(existing_number: int, unchanged_number: int) -> list[list[object]]:
    return [
        # 1: new; trailing spaces, postal code lost its zero, phone as float, Excel serial date
        [
            None,
            "  Jörg ",
            "Müller",
            "Hauptstr.  1",
            4109,
            "Leipzig",
            "JOERG@EXAMPLE.ORG ",
            3411234567.0,
            "01.02.1980",
            43500,
            "SN-L",
            "ermäßigt",
            "=SUMME(A1:A2)",
        ],
        # 2: new; dates as short text, division by name
        [
            None,
            "Änne",
            "Weiß",
            "Am Markt 2",
            "01067",
            "Dresden",
            "aenne@example.org",
            "0351 12345",
            "1.2.79",
            "15.3.21",
            "Kreisverband Dresden",
            "regulär",
            None,
        ],
        [
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ],  # an empty row
        # 4: an existing member whose address changed
        [
            existing_number,
            "Erika",
            "Beispiel",
            "Neue Straße 5",
            "04109",
            "Leipzig",
            "",
            None,
            None,
            None,
            None,
            None,
            None,
        ],
        # 5: an existing member exactly as in the register
        [
            unchanged_number,
            "Otto",
            "Normal",
            "Alte Straße 1",
            "04109",
            "Leipzig",
            "",
            None,
            None,
            None,
            None,
            None,
            None,
        ],
        # 6: broken e-mail and postal code
        [
            None,
            "Fehler",
            "Haft",
            "Weg 3",
            "123",
            "Ort",
            "kein-mail",
            None,
            None,
            None,
            None,
            None,
            None,
        ],
        # 7: same e-mail as row 1 (the file's own duplicate)
        [
            None,
            "Jörg",
            "Müller-Zwei",
            "Weg 4",
            "04109",
            "Leipzig",
            "joerg@example.org",
            None,
            None,
            None,
            None,
            None,
            None,
        ],
        # 8: a division outside the uploader's area
        [None, "Kiel", "Er", "Förde 1", "24103", "Kiel", "", None, None, None, "SH-KI", None, None],
    ]


def macro_workbook(content: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item.filename))
        target.writestr("xl/vbaProject.bin", b"\x00" * 64)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\x00" * (300 * 1024 * 1024))
    return buffer.getvalue()


TODAY = date(2026, 1, 1)
