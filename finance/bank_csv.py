"""Bank exports as CSV (the "Umsätze" download of German online banking), mapped by header.

Columns are recognised by their usual German and English titles; without a date and an
amount column the file is refused with the columns it did find. Bookings then go through
the same matching as CAMT.053 statements.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from finance.camt import Booking, Statement, StatementError
from members.spreadsheets import SpreadsheetError, normalise_header, read

COLUMNS: dict[str, list[str]] = {
    "booked_on": [
        "buchungstag",
        "buchungsdatum",
        "datum",
        "valuta",
        "wertstellung",
        "bookingdate",
        "date",
    ],
    "amount": ["betrag", "umsatz", "betrageur", "amount"],
    "currency": ["waehrung", "wahrung", "currency"],
    "reference": ["verwendungszweck", "zweck", "reference", "purpose", "remittanceinformation"],
    # What kind of booking the bank says it was ("Rücklastschrift", "Gutschrift", ...).
    "kind": ["buchungstext", "umsatzart", "vorgang", "transactiontype", "bookingtext"],
    "end_to_end_id": ["endtoendreferenz", "kundenreferenzendtoend", "endtoendid", "endtoend"],
    "return_reason": ["rueckgabegrund", "ruckgabegrund", "returnreason", "reasoncode"],
    # The account the export is of (the party's own): a donations account books donations.
    "account": ["auftragskonto", "ibanauftragskonto", "eigeneiban", "account", "accountiban"],
    "name": [
        "auftraggeber",
        "auftraggeberempfaenger",
        "empfaengerauftraggeber",
        "zahlungspflichtiger",
        "beguenstigterzahlungspflichtiger",
        "begunstigterzahlungspflichtiger",
        "name",
        "gegenkonto",
        "payer",
        "counterparty",
    ],
    "iban": ["iban", "kontonummeriban", "ibanauftraggeber", "counterpartyiban"],
    "bank_reference": ["buchungsreferenz", "referenz", "transaktionsid", "bankreference"],
}
LOOKUP = {alias: field for field, aliases in COLUMNS.items() for alias in aliases}
# Returned debits and reversed transfers, as German and English banks name them.
RETURN = re.compile(
    r"r(?:ü|ue|u)ck(?:lastschrift|buchung|belastung|überweisung|ueberweisung|gabe)|retoure|storno"
    r"|\breturn|\breversal|\bchargeback",
    re.IGNORECASE,
)


def _amount(text: str) -> Decimal:
    cleaned = text.replace("€", "").replace("EUR", "").strip().replace(" ", "")
    if re.fullmatch(r"[-+]?\d{1,3}(\.\d{3})*(,\d+)?|[-+]?\d+(,\d+)?", cleaned):
        cleaned = cleaned.replace(".", "").replace(",", ".")  # 1.234,56 -> 1234.56
    try:
        return Decimal(cleaned)
    except InvalidOperation as error:
        raise StatementError(_("“%s” is not an amount") % text) from error


def _date(text: str) -> date:
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})", text.strip())
    try:
        if match:
            day, month, year = (int(p) for p in match.groups())
            return date(year + 2000 if year < 100 else year, month, day)
        return date.fromisoformat(text.strip())
    except ValueError as error:
        raise StatementError(_("“%s” is not a date") % text) from error


def parse(content: bytes, filename: str) -> Statement:
    try:
        rows = read(content, filename if filename.lower().endswith(".csv") else f"{filename}.csv")
    except SpreadsheetError as error:
        raise StatementError(str(error)) from error
    header_index, mapping = None, {}
    for index, row in enumerate(rows[:20]):
        found = {
            i: LOOKUP[normalise_header(cell)]
            for i, cell in enumerate(row)
            if normalise_header(cell) in LOOKUP
        }
        if {"booked_on", "amount"} <= set(found.values()):
            header_index, mapping = index, found
            break
    if header_index is None:
        raise StatementError(
            _(
                "No columns for the booking date and the amount were found (looked for e.g. Buchungstag and Betrag)."
            )
        )
    bookings = []
    account = ""
    for number, row in enumerate(rows[header_index + 1 :], start=header_index + 2):
        values: dict[str, Any] = {}
        for index, field in mapping.items():
            if field not in values and index < len(row):
                values[field] = str(row[index] or "").strip()
        if not values.get("amount") and not values.get("booked_on"):
            continue  # empty or closing line
        try:
            amount, booked_on = (
                _amount(values.get("amount", "")),
                _date(values.get("booked_on", "")),
            )
        except StatementError as error:
            raise StatementError(
                _("Line %(line)s: %(error)s") % {"line": number, "error": error}
            ) from error
        account = account or values.get("account", "").replace(" ", "").upper()
        kind = values.get("kind", "")
        reference = values.get("reference", "") or kind
        end_to_end = values.get("end_to_end_id", "")
        own_reference = (
            values.get("bank_reference")
            or "csv:"
            + hashlib.sha256("|".join(str(cell) for cell in row).encode()).hexdigest()[:40]
        )
        bookings.append(
            Booking(
                amount=amount,
                currency=(values.get("currency") or "EUR").upper(),
                booked_on=booked_on,
                reversal=amount < 0 and bool(RETURN.search(f"{kind} {reference}")),
                bank_reference=own_reference,
                end_to_end_id="" if end_to_end.upper() == "NOTPROVIDED" else end_to_end,
                reference=reference,
                name=values.get("name", ""),
                iban=values.get("iban", "").replace(" ", ""),
                direct_debit="lastschrift" in f"{kind} {reference}".lower(),
                return_reason=values.get("return_reason", "")[:35],
            )
        )
    return Statement(statement_id="", iban=account, bookings=bookings)
