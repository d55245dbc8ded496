"""CAMT.053 bank statements (ISO 20022), read safely with defusedxml.

Only what booking member payments needs: per entry the amount and currency, credit or
debit, reversal, booking date, the bank's reference, the end-to-end id, the remittance
text and the payer's name and IBAN.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from django.utils.translation import gettext as _

MAX_BYTES = 20 * 1024 * 1024
# Bank transaction codes of returns: ISO sub-families (unpaid and returned debits, reversals
# of returns and cancellations) and the German business transaction codes (GVC) 108, 109
# (Rücklastschrift) and 159 (Rücküberweisung) in the proprietary code, e.g. "NRTI+109+...".
RETURN_SUBFAMILIES = {"UPDD", "RRTN", "ARET", "RPCR", "PRDD", "RCDD"}
RETURN_GVC = re.compile(r"(?:^|\D)(108|109|159)(?:\D|$)")
NAMESPACE = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(0[2-9]|1[0-3])$")


class StatementError(Exception):
    pass


@dataclass
class Booking:
    amount: Decimal  # positive: money in; negative: money out
    currency: str
    booked_on: date
    reversal: bool
    bank_reference: str
    end_to_end_id: str
    reference: str
    name: str
    iban: str
    direct_debit: bool
    return_reason: str = ""  # the bank's reason code for a return (RtrInf), e.g. AC04, MD06
    # What the banks charged for a return, included in `amount` (Chrgs, or the difference
    # between the amount taken back and the one instructed).
    fees: Decimal = Decimal(0)

    @property
    def is_return(self) -> bool:
        """Money out that takes back a payment: flagged as reversal, carrying return
        information, or coded as a returned or unpaid debit."""
        return self.amount < 0 and (self.reversal or bool(self.return_reason))


@dataclass
class Statement:
    statement_id: str
    iban: str
    bookings: list[Booking]


def parse(content: bytes) -> Statement:
    if len(content) > MAX_BYTES:
        raise StatementError(_("The statement is larger than 20 MB."))
    try:
        root = fromstring(content, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (ParseError, DefusedXmlException) as error:
        raise StatementError(
            _("This is not a readable CAMT.053 file (%s).") % type(error).__name__
        ) from error
    namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
    if not NAMESPACE.match(namespace):
        raise StatementError(
            _("This is not a CAMT.053 bank statement (namespace “%s”).") % namespace
        )
    ns = {"c": namespace}
    statements = root.findall("c:BkToCstmrStmt/c:Stmt", ns)
    if not statements:
        raise StatementError(_("The file contains no statement."))
    bookings: list[Booking] = []
    for statement in statements:
        for entry in statement.findall("c:Ntry", ns):
            bookings.extend(_entry(entry, ns))
    first = statements[0]
    return Statement(
        statement_id=_text(first, "c:Id", ns),
        iban=_text(first, "c:Acct/c:Id/c:IBAN", ns),
        bookings=bookings,
    )


def money(text: str) -> Decimal:
    """A finite amount with at most cents, or a StatementError."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation as error:
        raise StatementError(_("An entry has an unreadable amount.")) from error
    if not value.is_finite() or value.as_tuple().exponent < -2 or abs(value) >= Decimal("10000000"):
        raise StatementError(_("An entry has an unreadable amount."))
    return value


def _text(element: Element, path: str, ns: dict[str, str]) -> str:
    found = element.find(path, ns)
    return " ".join((found.text or "").split()) if found is not None else ""


def _return_fees(detail: Element, amount: Decimal, ns: dict[str, str]) -> Decimal:
    """The charges of a return: the records under Chrgs (camt.053.001.02 lists amounts
    directly, later versions in Rcrd), else the taken-back amount less the instructed one."""
    records = detail.findall("c:Chrgs/c:Rcrd", ns)
    charges = [
        record.find("c:Amt", ns)
        for record in records
        if _text(record, "c:ChrgInclInd", ns).lower() != "false"  # booked apart: not in it
    ] or ([] if records else detail.findall("c:Chrgs/c:Amt", ns))
    charges = [node for node in charges if node is not None]
    if records or charges:
        fees = sum((money(node.text or "") for node in charges), Decimal(0))
    else:
        instructed = detail.find("c:AmtDtls/c:InstdAmt/c:Amt", ns)
        fees = amount - money(instructed.text or "") if instructed is not None else Decimal(0)
    if fees < 0 or fees >= amount:
        raise StatementError(
            _("A return's charges (%(fees)s) do not fit its amount (%(amount)s).")
            % {"fees": fees, "amount": amount}
        )
    return fees


def _fingerprint(*parts: object) -> str:
    """A stable reference for a booking the bank gave none: the same booking, the same text."""
    return "h:" + hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:40]


def _entry(entry: Element, ns: dict[str, str]) -> list[Booking]:
    amount_element = entry.find("c:Amt", ns)
    if amount_element is None:
        raise StatementError(_("An entry has no amount."))
    amount = money(amount_element.text or "")
    currency = amount_element.get("Ccy", "")
    credit = _text(entry, "c:CdtDbtInd", ns) == "CRDT"
    booked = _text(entry, "c:BookgDt/c:Dt", ns) or _text(entry, "c:BookgDt/c:DtTm", ns)[:10]
    try:
        booked_on = date.fromisoformat(booked)
    except ValueError as error:
        raise StatementError(_("An entry has no booking date.")) from error
    reversal = _text(entry, "c:RvslInd", ns).lower() == "true"
    family = _text(entry, "c:BkTxCd/c:Domn/c:Fmly/c:Cd", ns)
    subfamily = _text(entry, "c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd", ns)
    proprietary = _text(entry, "c:BkTxCd/c:Prtry/c:Cd", ns)
    coded_return = subfamily in RETURN_SUBFAMILIES or bool(RETURN_GVC.search(proprietary))
    details = entry.findall("c:NtryDtls/c:TxDtls", ns) or [None]
    bookings = []
    for index, detail in enumerate(details):
        party = "c:RltdPties/c:Dbtr" if credit else "c:RltdPties/c:Cdtr"
        account = "c:RltdPties/c:DbtrAcct" if credit else "c:RltdPties/c:CdtrAcct"
        reference = ""
        name = iban = end_to_end = return_reason = ""
        detail_return = coded_return
        detail_amount = amount
        fees = Decimal(0)
        if detail is not None:
            reference = " ".join(
                " ".join((node.text or "").split())
                for node in detail.findall("c:RmtInf/c:Ustrd", ns)
            )
            name = _text(detail, f"{party}/c:Nm", ns) or _text(detail, f"{party}/c:Pty/c:Nm", ns)
            iban = _text(detail, f"{account}/c:Id/c:IBAN", ns)
            end_to_end = _text(detail, "c:Refs/c:EndToEndId", ns)
            if detail.find("c:RtrInf", ns) is not None:
                return_reason = (
                    _text(detail, "c:RtrInf/c:Rsn/c:Cd", ns)
                    or _text(detail, "c:RtrInf/c:Rsn/c:Prtry", ns)
                    or "RtrInf"
                )[:35]
            detail_sub = _text(detail, "c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd", ns)
            detail_prtry = _text(detail, "c:BkTxCd/c:Prtry/c:Cd", ns)
            detail_return = (
                coded_return
                or detail_sub in RETURN_SUBFAMILIES
                or bool(RETURN_GVC.search(detail_prtry))
            )
            own = detail.find("c:Amt", ns)
            if own is None:
                own = detail.find("c:AmtDtls/c:TxAmt/c:Amt", ns)
            if len(details) > 1:
                if own is None:
                    raise StatementError(
                        _("A batch booking does not say the amount of each payment.")
                    )
                detail_amount = money(own.text or "")
            if not credit and (detail_return or return_reason):
                fees = _return_fees(detail, detail_amount, ns)
        bookings.append(
            Booking(
                amount=detail_amount if credit else -detail_amount,
                currency=currency,
                booked_on=booked_on,
                reversal=reversal or (not credit and detail_return),
                bank_reference=(
                    _text(entry, "c:AcctSvcrRef", ns)
                    or _fingerprint(booked_on, detail_amount, iban, end_to_end, reference)
                )
                + (f"/{index + 1}" if len(details) > 1 else ""),
                end_to_end_id="" if end_to_end == "NOTPROVIDED" else end_to_end,
                reference=reference,
                name=name,
                iban=iban.replace(" ", ""),
                # Collected by the party (issued direct debits, family IDDT, as the party's
                # bank reports them) or debited (RDDT); sub-families such as ESDD, BBDD.
                direct_debit=family in ("IDDT", "RDDT") or subfamily.endswith("DD"),
                return_reason=return_reason,
                fees=fees,
            )
        )
    if len(bookings) > 1 and sum(abs(b.amount) for b in bookings) != amount:
        raise StatementError(_("The payments of a batch booking do not add up to its amount."))
    return bookings
