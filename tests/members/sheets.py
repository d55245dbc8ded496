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


def ods_bytes(
    rows: list[list[object]], *, merged: dict[tuple[int, int], int] | None = None
) -> bytes:
    """A LibreOffice sheet (.ods) written by hand: strings, numbers and dates typed as
    LibreOffice types them. `merged`: (row, column) -> number of rows the cell spans down
    (the cells it covers must be None in `rows`)."""
    from xml.sax.saxutils import escape, quoteattr

    merged = merged or {}
    covered = {
        (row + offset, column)
        for (row, column), span in merged.items()
        for offset in range(1, span)
    }
    lines = []
    for r, row in enumerate(rows):
        cells = []
        for c, value in enumerate(row):
            span = f' table:number-rows-spanned="{merged[(r, c)]}"' if (r, c) in merged else ""
            if (r, c) in covered:
                cells.append("<table:covered-table-cell/>")
            elif value is None:
                cells.append("<table:table-cell/>")
            elif isinstance(value, bool | int | float):
                cells.append(
                    f'<table:table-cell office:value-type="float" office:value="{value}"{span}>'
                    f"<text:p>{value}</text:p></table:table-cell>"
                )
            elif isinstance(value, date):
                cells.append(
                    f'<table:table-cell office:value-type="date" '
                    f'office:date-value="{value.isoformat()}"{span}>'
                    f"<text:p>{value:%d.%m.%Y}</text:p></table:table-cell>"
                )
            else:
                cells.append(
                    f'<table:table-cell office:value-type="string"{span}>'
                    f"<text:p>{escape(str(value))}</text:p></table:table-cell>"
                )
        lines.append("<table:table-row>" + "".join(cells) + "</table:table-row>")
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        "<office:document-content "
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f"<office:body><office:spreadsheet><table:table table:name={quoteattr('Mitglieder')}>"
        + "".join(lines)
        + "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            zipfile.ZipInfo("mimetype"),
            "application/vnd.oasis.opendocument.spreadsheet",
            compress_type=zipfile.ZIP_STORED,
        )
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return buffer.getvalue()
