"""Reading member spreadsheets: .xlsx and .csv, defensively.

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
    if len(content) > MAX_BYTES:
        raise SpreadsheetError(_("The file is larger than 10 MB."))
    if not content.strip():
        raise SpreadsheetError(_("The file is empty."))
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise SpreadsheetError(
            _(
                "This is a password-protected workbook or an old .xls file. Please save it "
                "without a password as .xlsx (Excel workbook) and upload it again."
            )
        )
    if content[:4] == b"PK\x03\x04":
        return _read_xlsx(content)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls")):
        raise SpreadsheetError(_("This file is not a valid Excel workbook (.xlsx)."))
    return _read_csv(content)


def _read_xlsx(content: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
        names = archive.namelist()
        if sum(info.file_size for info in archive.infolist()) > MAX_UNZIPPED:
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
            if number > MAX_ROWS + HEADER_SEARCH_ROWS or cells > MAX_CELLS:
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
    return rows


class FormulaWithoutValue(str):
    """A formula cell whose result was never saved (the file was not opened in Excel)."""


def _too_many_rows() -> str:
    return _("The sheet has more than %(max)s rows. Please split it.") % {
        "max": number_format(MAX_ROWS, force_grouping=True)
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
            if number > MAX_ROWS + HEADER_SEARCH_ROWS:
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
    if len(body) > MAX_ROWS:
        raise SpreadsheetError(_too_many_rows())
    return Sheet(header=header, rows=body, header_row=index + 1, row_numbers=numbers)
