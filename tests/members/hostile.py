"""Hostile workbooks, written part by part as a stream (small files that unpack to much).

Each is a valid .xlsx that Excel would open; what makes it hostile is the size of one part.
Also runnable to write them to files, for measuring the command with /usr/bin/time -v:
    python -m tests.members.hostile DIR
"""

from __future__ import annotations

import io
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
    "</Types>"
)
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
WORKBOOK = (
    f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{REL}">'
    '<sheets><sheet name="Mitglieder" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
    '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>'
    "</Relationships>"
)
HEADER_ROW = (
    '<row r="1"><c r="A1" t="inlineStr"><is><t>Vorname</t></is></c>'
    '<c r="B1" t="inlineStr"><is><t>Nachname</t></is></c></row>'
)


def _chunks(head: str, repeated: str, times: int, tail: str) -> Iterator[bytes]:
    yield head.encode()
    block = (repeated * 10_000).encode()
    for _ in range(times // 10_000):
        yield block
    yield (repeated * (times % 10_000)).encode()
    yield tail.encode()


def workbook(
    sheet: Iterable[bytes] | None = None,
    shared_strings: Iterable[bytes] | None = None,
    styles: Iterable[bytes] | None = None,
) -> bytes:
    """A workbook whose parts are written from the given chunks (defaults: small, valid)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", ROOT_RELS)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)
        parts = {
            "xl/worksheets/sheet1.xml": sheet
            or [
                f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER_ROW}</sheetData></worksheet>'.encode()
            ],
            "xl/sharedStrings.xml": shared_strings
            or [f'<sst xmlns="{MAIN}" count="0" uniqueCount="0"></sst>'.encode()],
            "xl/styles.xml": styles or [f'<styleSheet xmlns="{MAIN}"></styleSheet>'.encode()],
        }
        for name, chunks in parts.items():
            with archive.open(name, "w", force_zip64=True) as part:
                for chunk in chunks:
                    part.write(chunk)
    return buffer.getvalue()


def one_row_of_many_cells(cells: int = 40_000_000) -> bytes:
    return workbook(
        sheet=_chunks(
            f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER_ROW}<row r="2">',
            "<c/>",
            cells,
            "</row></sheetData></worksheet>",
        )
    )


def huge_shared_strings(megabytes: int = 200) -> bytes:
    entry = "<si><t>Mustermann Mustermann</t></si>"
    return workbook(
        shared_strings=_chunks(
            f'<sst xmlns="{MAIN}">', entry, megabytes * 1024 * 1024 // len(entry), "</sst>"
        )
    )


def huge_styles(megabytes: int = 200) -> bytes:
    entry = '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    return workbook(
        styles=_chunks(
            f'<styleSheet xmlns="{MAIN}"><cellXfs>',
            entry,
            megabytes * 1024 * 1024 // len(entry),
            "</cellXfs></styleSheet>",
        )
    )


def honest_big_sheet(megabytes: int = 1024) -> bytes:
    """Real rows of names, as many as fill `megabytes` of sheet XML."""
    row = (
        '<row><c t="inlineStr"><is><t>Erika</t></is></c>'
        '<c t="inlineStr"><is><t>Mustermann</t></is></c></row>'
    )
    return workbook(
        sheet=_chunks(
            f'<worksheet xmlns="{MAIN}"><sheetData>{HEADER_ROW}',
            row,
            megabytes * 1024 * 1024 // len(row),
            "</sheetData></worksheet>",
        )
    )


if __name__ == "__main__":
    target = Path(sys.argv[1])
    target.mkdir(parents=True, exist_ok=True)
    for name, make in {
        "one-row-40m-cells.xlsx": one_row_of_many_cells,
        "shared-strings-200mb.xlsx": huge_shared_strings,
        "styles-200mb.xlsx": huge_styles,
        "honest-1gb.xlsx": honest_big_sheet,
    }.items():
        content = make()
        (target / name).write_bytes(content)
        print(f"{name}: {len(content):,} bytes")
