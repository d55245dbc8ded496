"""Bank files for the year simulation (finance.simulation): CAMT.053 statements as a bank
sends them, written from entries that remember what each one is meant to become.

Nothing here touches the database; the simulation decides what people pay and checks what
the import made of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from xml.sax.saxutils import escape

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
ACCOUNT = "DE02120300000000202051"


@dataclass
class Detail:
    """One payment inside an entry (a batch entry has several)."""

    amount: Decimal  # always positive; the entry says credit or debit
    reference: str = ""
    name: str = ""
    iban: str = ""
    end_to_end: str = "NOTPROVIDED"
    return_reason: str = ""  # RtrInf/Rsn/Cd
    # What the simulation expects the import to make of it:
    #   dues (member), donation (member or None), return (member or None, original ref),
    #   review (member the payer meant, or None), split (the members named), other.
    kind: str = "dues"
    member: int | None = None  # the member the money is really for (pk)
    members: tuple[int, ...] = ()  # a split: every member named
    original: str = ""  # a return: the bank reference of the collection it takes back
    expect_match: bool = True  # the reference or IBAN should find `member`
    # The members who paid from this account before (set when the file is imported): a
    # booking matched by the account alone may go to any of them.
    account_of: frozenset[int] = frozenset()


@dataclass
class Entry:
    """One <Ntry>: money in (credit) or out (debit), one or several details."""

    ref: str  # AcctSvcrRef, unique per booking
    booked_on: date
    credit: bool
    details: list[Detail]
    family: str = "RCDT"  # BkTxCd/Domn/Fmly/Cd
    subfamily: str = "ESCT"  # BkTxCd/Domn/Fmly/SubFmlyCd
    domain: str = "PMNT"
    reversal: bool = False  # RvslInd
    proprietary: str = ""  # BkTxCd/Prtry/Cd, e.g. "NRTI+109+0000"

    @property
    def amount(self) -> Decimal:
        return sum((d.amount for d in self.details), Decimal(0))

    @property
    def signed(self) -> Decimal:
        return self.amount if self.credit else -self.amount

    def bank_references(self) -> list[str]:
        """The bank reference each detail is booked under (a batch numbers its parts)."""
        if len(self.details) == 1:
            return [self.ref]
        return [f"{self.ref}/{i}" for i in range(1, len(self.details) + 1)]


@dataclass
class BankFile:
    statement_id: str
    created: date
    entries: list[Entry] = field(default_factory=list)

    @property
    def total(self) -> Decimal:
        return sum((e.signed for e in self.entries), Decimal(0))

    def render(self) -> bytes:
        body = "".join(_entry(e) for e in self.entries)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<Document xmlns="{NAMESPACE}">\n'
            "  <BkToCstmrStmt>\n"
            f"    <GrpHdr><MsgId>MSG-{self.statement_id}</MsgId>"
            f"<CreDtTm>{self.created.isoformat()}T07:00:00</CreDtTm></GrpHdr>\n"
            "    <Stmt>\n"
            f"      <Id>{self.statement_id}</Id>\n"
            f"      <CreDtTm>{self.created.isoformat()}T07:00:00</CreDtTm>\n"
            f"      <Acct><Id><IBAN>{ACCOUNT}</IBAN></Id><Ccy>EUR</Ccy></Acct>\n"
            f"{body}"
            "    </Stmt>\n"
            "  </BkToCstmrStmt>\n"
            "</Document>\n"
        ).encode()


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"


def _detail(entry: Entry, detail: Detail, batch: bool) -> str:
    party, account = ("Dbtr", "DbtrAcct") if entry.credit else ("Cdtr", "CdtrAcct")
    parts = []
    if batch:
        parts.append(
            f'<AmtDtls><TxAmt><Amt Ccy="EUR">{_money(detail.amount)}</Amt></TxAmt></AmtDtls>'
        )
    parts.append(f"<Refs><EndToEndId>{escape(detail.end_to_end)}</EndToEndId></Refs>")
    if detail.name or detail.iban:
        related = f"<{party}><Nm>{escape(detail.name)}</Nm></{party}>" if detail.name else ""
        if detail.iban:
            related += f"<{account}><Id><IBAN>{detail.iban}</IBAN></Id></{account}>"
        parts.append(f"<RltdPties>{related}</RltdPties>")
    if detail.reference:
        parts.append(f"<RmtInf><Ustrd>{escape(detail.reference)}</Ustrd></RmtInf>")
    if detail.return_reason:
        parts.append(f"<RtrInf><Rsn><Cd>{detail.return_reason}</Cd></Rsn></RtrInf>")
    return f"<TxDtls>{''.join(parts)}</TxDtls>"


def _entry(entry: Entry) -> str:
    batch = len(entry.details) > 1
    code = (
        f"<Domn><Cd>{entry.domain}</Cd><Fmly><Cd>{entry.family}</Cd>"
        f"<SubFmlyCd>{entry.subfamily}</SubFmlyCd></Fmly></Domn>"
    )
    if entry.proprietary:
        code += f"<Prtry><Cd>{escape(entry.proprietary)}</Cd></Prtry>"
    details = "".join(_detail(entry, d, batch) for d in entry.details)
    day = entry.booked_on.isoformat()
    return (
        "      <Ntry>"
        f'<Amt Ccy="EUR">{_money(entry.amount)}</Amt>'
        f"<CdtDbtInd>{'CRDT' if entry.credit else 'DBIT'}</CdtDbtInd>"
        f"{'<RvslInd>true</RvslInd>' if entry.reversal else ''}"
        "<Sts><Cd>BOOK</Cd></Sts>"
        f"<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
        f"<AcctSvcrRef>{escape(entry.ref)}</AcctSvcrRef>"
        f"<BkTxCd>{code}</BkTxCd>"
        f"<NtryDtls>{details}</NtryDtls>"
        "</Ntry>\n"
    )


def iban(number: int) -> str:
    """A German IBAN with a correct check number for an account number."""
    bank, account = "43060967", f"{number:010d}"
    digits = f"{bank}{account}131400"  # "DE" is 13 14, then check digits 00
    check = 98 - int(digits) % 97
    return f"DE{check:02d}{bank}{account}"
