"""Reading member spreadsheets: .xlsx, .ods, .xls and .csv, defensively.

A legacy sheet is messy: a title above the header, German headers in many spellings, dates
as text or Excel serial numbers, postal codes that lost their leading zero, phone numbers as
floats. This module turns a file into a header and rows of raw values, refusing what is not
a sheet we can read safely; `members.imports` maps and validates the values.

Whatever we write into a spreadsheet (exports, the import's error list, statements) goes
through `neutralise`, so that no cell runs as a formula.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 50_000
MAX_COLUMNS = 60  # a member sheet has a dozen columns; a declared XFD width is ignored
MAX_CELLS = 1_500_000
MAX_UNZIPPED = 200 * 1024 * 1024  # a zip bomb expands far beyond this
HEADER_SEARCH_ROWS = 15
# Parts a member sheet never needs large: read whole by openpyxl, so bounded before it does.
MAX_PART = {
    "xl/sharedStrings.xml": 24 * 1024 * 1024,
    "xl/styles.xml": 4 * 1024 * 1024,
    "xl/workbook.xml": 1024 * 1024,
    "xl/_rels/workbook.xml.rels": 1024 * 1024,
}
MAX_SHEET_PART = 150 * 1024 * 1024
MAX_CELLS_IN_ROW = 1000  # cells written in one row (also empty, formatted ones)
MAX_SCAN_SECONDS = 10
MAX_MERGED = 10_000  # merged ranges filled in; more are left as the file has them


@dataclass(frozen=True)
class Limits:
    """What a sheet may hold. An upload gets the defaults; the federal switch-over reads the
    whole register from a file the office itself exported (finance.switchover)."""

    bytes: int = MAX_BYTES
    rows: int = MAX_ROWS
    cells: int = MAX_CELLS
    unzipped: int = MAX_UNZIPPED
    sheet_part: int = MAX_SHEET_PART


UPLOAD_LIMITS = Limits()
_limits: ContextVar[Limits] = ContextVar("spreadsheet_limits", default=UPLOAD_LIMITS)


@contextmanager
def limits(value: Limits) -> Iterator[None]:
    """Read sheets within these limits instead of the upload's."""
    token = _limits.set(value)
    try:
        yield
    finally:
        _limits.reset(token)


# A cell beginning with one of these is run as a formula by some spreadsheet program (a tab
# or a carriage return can hide one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """A cell that begins like a formula is kept as text, so no spreadsheet runs it."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SpreadsheetError(Exception):
    """The file cannot be read; the message says why in words a board member understands."""


@dataclass
class Sheet:
    header: list[str]
    rows: list[list[Any]]  # the rows below the header, empty rows dropped
    header_row: int  # 1-based row number of the header in the file
    row_numbers: list[int]  # the file's row number of each row


def read(content: bytes, filename: str) -> list[list[Any]]:
    """All rows of the first sheet (or the CSV) as lists of raw values."""
    if len(content) > _limits.get().bytes:
        raise SpreadsheetError(
            _("The file is larger than %(size)s MB.")
            % {"size": number_format(_limits.get().bytes // (1024 * 1024), force_grouping=True)}
        )
    if not content.strip():
        raise SpreadsheetError(_("The file is empty."))
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return _read_with_calamine(content, _("an old Excel workbook (.xls)"))
    if content[:4] == b"PK\x03\x04":
        if _is_ods(content):
            return _read_ods(content)
        return _read_xlsx(content)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise SpreadsheetError(_("This file is not a valid Excel workbook (.xlsx)."))
    return _read_csv(content)


def _read_xlsx(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = archive.namelist()
        if sum(info.file_size for info in archive.infolist()) > _limits.get().unzipped:
            raise SpreadsheetError(_("The workbook unpacks to an implausible size; it is refused."))
    except zipfile.BadZipFile as error:
        raise SpreadsheetError(_("This file is not a valid Excel workbook (.xlsx).")) from error
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise SpreadsheetError(_("This file is not a valid Excel workbook (.xlsx)."))
    if any(n.lower().endswith("vbaproject.bin") for n in names):
        raise SpreadsheetError(
            _(
                "The workbook contains macros. Please save it as a plain .xlsx workbook without macros."
            )
        )
    merged = _check_parts(archive)
    try:
        formulas = load_workbook(io.BytesIO(content), read_only=True, data_only=False)
        values = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        raw_sheet, value_sheet = formulas.worksheets[0], values.worksheets[0]
        # The file's own <dimension> would make openpyxl pad every row to it: ignore it.
        raw_sheet.reset_dimensions()
        value_sheet.reset_dimensions()
        rows: list[list[Any]] = []
        cells = 0
        pairs = zip(
            raw_sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS),
            value_sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS),
            strict=False,
        )
        for number, (raw, cached) in enumerate(pairs, start=1):
            cells += len(cached)
            if number > _limits.get().rows + HEADER_SEARCH_ROWS or cells > _limits.get().cells:
                raise SpreadsheetError(_too_many_rows())
            row = []
            for formula, value in zip(raw, cached, strict=False):
                if isinstance(formula, str) and formula.startswith("=") and value is None:
                    value = FormulaWithoutValue(formula)
                row.append(value)
            rows.append(row)
    except SpreadsheetError:
        raise
    except Exception as error:  # openpyxl raises many kinds on broken files
        raise SpreadsheetError(_("The workbook is damaged and cannot be read.")) from error
    fill_merged(rows, merged)
    return rows


def _cell_ref(ref: str) -> tuple[int, int] | None:
    """'C12' -> (row 11, column 2), both from 0."""
    match = re.fullmatch(r"([A-Z]{1,3})(\d{1,7})", ref.strip().upper())
    if not match:
        return None
    column = 0
    for letter in match.group(1):
        column = column * 26 + ord(letter) - ord("A") + 1
    return int(match.group(2)) - 1, column - 1


def fill_merged(rows: list[list[Any]], ranges: list[tuple[int, int, int, int]]) -> None:
    """A merged cell's value in every cell it spans: offices merge the division's cell over
    all its members' rows (only the top left cell holds the value in the file)."""
    budget = _limits.get().cells  # cells filled in all: a crafted file costs no more
    for top, left, bottom, right in ranges:
        if top >= len(rows) or left >= MAX_COLUMNS or left >= len(rows[top]):
            continue
        budget -= (min(bottom, len(rows) - 1) - top + 1) * (min(right, MAX_COLUMNS - 1) - left + 1)
        if budget < 0:
            raise SpreadsheetError(_too_many_rows())
        value = rows[top][left]
        for number in range(top, min(bottom, len(rows) - 1) + 1):
            row = rows[number]
            for column in range(left, min(right, MAX_COLUMNS - 1) + 1):
                if column >= len(row):
                    row.extend([None] * (column + 1 - len(row)))
                if row[column] is None:
                    row[column] = value


ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def _is_ods(content: bytes) -> bool:
    """A LibreOffice sheet: a zip whose first part names the OpenDocument spreadsheet type."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = archive.namelist()
        return "mimetype" in names and archive.read("mimetype").strip() == ODS_MIMETYPE
    except (zipfile.BadZipFile, KeyError, RuntimeError):
        return False


def _read_ods(content: bytes) -> list[list[Any]]:
    """A LibreOffice sheet (.ods), refused before reading when its parts are implausibly
    large (a zip bomb), then read by Calamine."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    if sum(info.file_size for info in archive.infolist()) > _limits.get().unzipped or any(
        info.file_size > _limits.get().sheet_part for info in archive.infolist()
    ):
        raise _refused_as_too_large()
    rows = _read_with_calamine(content, _("a LibreOffice sheet (.ods)"))
    fill_merged(rows, _ods_merged(archive))
    return rows


def _ods_merged(archive: zipfile.ZipFile) -> list[tuple[int, int, int, int]]:
    """The merged ranges of an .ods file's first table (top, left, bottom, right, from 0),
    read from its content (Calamine does not report them for .ods)."""
    from xml.parsers import expat

    merged: list[tuple[int, int, int, int]] = []
    state = {"tables": 0, "row": -1, "column": 0, "row_repeat": 1}

    def start(name: str, attributes: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local == "table":
            state["tables"] += 1
        if state["tables"] != 1:
            return
        if local == "table-row":
            state["row"] += 1
            state["column"] = 0
            state["row_repeat"] = int(attributes.get("table:number-rows-repeated", "1") or 1)
        elif local in ("table-cell", "covered-table-cell"):
            rows_spanned = int(attributes.get("table:number-rows-spanned", "1") or 1)
            columns_spanned = int(attributes.get("table:number-columns-spanned", "1") or 1)
            if (rows_spanned > 1 or columns_spanned > 1) and len(merged) < MAX_MERGED:
                row, column = state["row"], state["column"]
                merged.append((row, column, row + rows_spanned - 1, column + columns_spanned - 1))
            state["column"] += int(attributes.get("table:number-columns-repeated", "1") or 1)

    def end(name: str) -> None:
        if state["tables"] == 1 and name.rpartition(":")[2] == "table-row":
            state["row"] += min(state["row_repeat"], _limits.get().rows + HEADER_SEARCH_ROWS) - 1
        elif name.rpartition(":")[2] == "table" and state["tables"] == 1:
            state["tables"] = 2  # the first table is done

    def forbidden(*args: object) -> None:
        raise _Refused(_("The sheet is damaged and cannot be read."))

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = forbidden
    parser.EntityDeclHandler = forbidden
    try:
        with archive.open("content.xml") as stream:
            while chunk := stream.read(256 * 1024):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except (_Refused, expat.ExpatError, KeyError, ValueError, zipfile.BadZipFile):
        return []  # the values were read; only their merges are unknown
    return merged


def _read_with_calamine(content: bytes, kind: str) -> list[list[Any]]:
    """The first sheet's rows, as Python values (text, numbers, dates); Calamine reads
    .ods and the old .xls. Empty cells become None, as openpyxl gives them."""
    from python_calamine import CalamineWorkbook, PasswordError

    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        values = workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    except PasswordError as error:
        raise SpreadsheetError(_password_message()) from error
    except Exception as error:  # Calamine raises many kinds on broken files
        if content[:4] != b"PK\x03\x04":
            raise SpreadsheetError(_password_message()) from error
        raise SpreadsheetError(
            _("This file is %(kind)s, but it is damaged and cannot be read.") % {"kind": kind}
        ) from error
    if len(values) > _limits.get().rows + HEADER_SEARCH_ROWS:
        raise SpreadsheetError(_too_many_rows())
    rows = [[None if cell == "" else cell for cell in row[:MAX_COLUMNS]] for row in values]
    if sum(len(row) for row in rows) > _limits.get().cells:
        raise SpreadsheetError(_too_many_rows())
    return rows


def _password_message() -> str:
    return _(
        "This workbook is password-protected or cannot be read. Please save it without a "
        "password as .xlsx (Excel workbook) and upload it again."
    )


def _refused_as_too_large() -> SpreadsheetError:
    return SpreadsheetError(
        _(
            "The workbook holds far more than a list (its inner parts are too large). Please "
            "copy the rows you need into a new workbook and upload that."
        )
    )


def _check_parts(archive: zipfile.ZipFile) -> list[tuple[int, int, int, int]]:
    """Refuse a workbook before openpyxl reads it whole: parts it loads entirely (shared
    strings, styles) are bounded by size, and the first sheet is scanned as a stream, stopping
    at the first limit (rows, cells, cells in one row), so that a hostile file costs
    milliseconds, not minutes and gigabytes. Sizes come from the zip's directory; the
    decompressor never yields more than these say."""
    for info in archive.infolist():
        limit = MAX_PART.get(info.filename)
        if limit is None and info.filename.startswith("xl/worksheets/"):
            limit = _limits.get().sheet_part
        if limit is not None and info.file_size > limit:
            raise _refused_as_too_large()
    path = _first_sheet_path(archive)
    return _scan_sheet(archive, path) if path is not None else []


def _first_sheet_path(archive: zipfile.ZipFile) -> str | None:
    """The part of the workbook's first sheet, as openpyxl will read it."""
    from defusedxml import ElementTree

    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        relations = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except Exception:
        return None  # openpyxl will say the workbook is damaged
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    first = workbook.find(f"{main}sheets/{main}sheet")
    if first is None:
        return None
    for relation in relations:
        if relation.get("Id") == first.get(rel):
            target = relation.get("Target", "")
            return target.lstrip("/") if target.startswith("/") else f"xl/{target}"
    return None


class _Refused(Exception):
    pass


def _scan_sheet(archive: zipfile.ZipFile, path: str) -> list[tuple[int, int, int, int]]:
    """Scan the sheet (see _check_parts); returns its merged ranges (top, left, bottom,
    right, from 0)."""
    import time
    from xml.parsers import expat

    rows = cells = in_row = 0
    deadline = time.monotonic() + MAX_SCAN_SECONDS
    merged: list[tuple[int, int, int, int]] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        nonlocal rows, cells, in_row
        local = name.rpartition(":")[2]
        if local == "mergeCell" and len(merged) < MAX_MERGED:
            first, _colon, last = attributes.get("ref", "").partition(":")
            corners = _cell_ref(first), _cell_ref(last or first)
            if corners[0] is not None and corners[1] is not None:
                merged.append((*corners[0], *corners[1]))
        elif local == "c":
            cells += 1
            in_row += 1
            if in_row > MAX_CELLS_IN_ROW:
                raise _Refused(
                    _(
                        "A row of the sheet has more than %(max)s cells. Please remove the extra columns."
                    )
                    % {"max": number_format(MAX_CELLS_IN_ROW, force_grouping=True)}
                )
            if cells > 2 * _limits.get().cells:
                raise _Refused(_too_many_rows())
        elif local == "row":
            rows += 1
            in_row = 0
            if rows > _limits.get().rows + HEADER_SEARCH_ROWS:
                raise _Refused(_too_many_rows())

    def forbidden(*args: object) -> None:
        raise _Refused(_("This file is not a valid Excel workbook (.xlsx)."))

    parser = expat.ParserCreate()
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = forbidden  # a workbook has none; entities hide bombs
    parser.EntityDeclHandler = forbidden
    try:
        with archive.open(path) as stream:
            while chunk := stream.read(256 * 1024):
                parser.Parse(chunk, False)
                if time.monotonic() > deadline:
                    raise _refused_as_too_large()
            parser.Parse(b"", True)
    except _Refused as error:
        raise SpreadsheetError(str(error)) from None
    except (expat.ExpatError, zipfile.BadZipFile, KeyError, EOFError) as error:
        raise SpreadsheetError(_("The workbook is damaged and cannot be read.")) from error
    return merged


class FormulaWithoutValue(str):
    """A formula cell whose result was never saved (the file was not opened in Excel)."""


def _too_many_rows() -> str:
    return _("The sheet has more than %(max)s rows. Please split it.") % {
        "max": number_format(_limits.get().rows, force_grouping=True)
    }


def _read_csv(content: bytes) -> list[list[Any]]:
    text = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise SpreadsheetError(
            _("The text encoding of this file is unknown. Please save it as CSV (UTF-8).")
        )
    if "\x00" in text:
        raise SpreadsheetError(_("This file is neither a spreadsheet nor a CSV text file."))
    sample = text[:5000]
    delimiter = ";" if sample.count(";") >= sample.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows = []
    try:
        for number, row in enumerate(reader, start=1):
            if number > _limits.get().rows + HEADER_SEARCH_ROWS:
                raise SpreadsheetError(_too_many_rows())
            rows.append(row[:MAX_COLUMNS])
    except csv.Error as error:
        raise SpreadsheetError(
            _("This CSV file is malformed (line %s).") % reader.line_num
        ) from error
    return rows


def normalise_header(text: Any) -> str:
    """'Mitgl.-Nr.' -> 'mitglnr', 'E-Mail ' -> 'email', 'Straße' -> 'strasse'."""
    value = unicodedata.normalize("NFKC", str(text or "")).strip().lower()
    value = value.replace("ß", "ss").replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    return re.sub(r"[^a-z0-9]", "", value)


def find_header(rows: list[list[Any]], known: set[str]) -> int:
    """Index of the row that looks most like a header (the most known column names)."""
    best, best_score = -1, 1
    for index, row in enumerate(rows[:HEADER_SEARCH_ROWS]):
        score = sum(1 for cell in row if normalise_header(cell) in known)
        if score > best_score:
            best, best_score = index, score
    if best < 0:
        raise SpreadsheetError(
            _(
                "No header row found. The first rows should name the columns, e.g. Vorname, Nachname, PLZ."
            )
        )
    return best


def sheet(rows: list[list[Any]], known: set[str]) -> Sheet:
    index = find_header(rows, known)
    header = [str(cell).strip() if cell is not None else "" for cell in rows[index]]
    while header and not header[-1]:
        header.pop()  # rows come padded with empty cells on the right
    body, numbers = [], []
    for number, row in enumerate(rows[index + 1 :], start=index + 2):
        if any(cell not in (None, "") and str(cell).strip() for cell in row):
            body.append(list(row[: len(header)]) + [None] * (len(header) - len(row)))
            numbers.append(number)
    if not body:
        raise SpreadsheetError(_("The sheet has a header but no rows below it."))
    if len(body) > _limits.get().rows:
        raise SpreadsheetError(_too_many_rows())
    return Sheet(header=header, rows=body, header_row=index + 1, row_numbers=numbers)
