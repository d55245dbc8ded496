"""CAMT.053 statements built in the tests, as banks send them."""

from __future__ import annotations

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"


def entry(
    amount,
    *,
    ref,
    reference="",
    name="",
    iban="",
    credit=True,
    currency="EUR",
    e2e="NOTPROVIDED",
    reversal=False,
    direct_debit=False,
    booked="2026-03-02",
    subfamily="ESCT",
    bank_code=True,
    proprietary="",
    return_reason="",
    details="",
):
    """`details`: more of the transaction's details as the bank gives them (AmtDtls, Chrgs)."""
    family = "RDDT" if direct_debit else "RCDT"
    code = (
        f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{subfamily}</SubFmlyCd>"
        "</Fmly></Domn>"
        + (f"<Prtry><Cd>{proprietary}</Cd></Prtry>" if proprietary else "")
        + "</BkTxCd>"
        if bank_code
        else ""
    )
    returned = f"<RtrInf><Rsn><Cd>{return_reason}</Cd></Rsn></RtrInf>" if return_reason else ""
    party, account = ("Dbtr", "DbtrAcct") if credit else ("Cdtr", "CdtrAcct")
    return f"""
    <Ntry>
      <Amt Ccy="{currency}">{amount}</Amt>
      <CdtDbtInd>{"CRDT" if credit else "DBIT"}</CdtDbtInd>
      {"<RvslInd>true</RvslInd>" if reversal else ""}
      <Sts>BOOK</Sts>
      <BookgDt><Dt>{booked}</Dt></BookgDt>
      <ValDt><Dt>{booked}</Dt></ValDt>
      <AcctSvcrRef>{ref}</AcctSvcrRef>
      {code}
      <NtryDtls><TxDtls>
        <Refs><EndToEndId>{e2e}</EndToEndId></Refs>
        <RltdPties><{party}><Nm>{name}</Nm></{party}><{account}><Id><IBAN>{iban}</IBAN></Id></{account}></RltdPties>
        {details}
        <RmtInf><Ustrd>{reference}</Ustrd></RmtInf>
        {returned}
      </TxDtls></NtryDtls>
    </Ntry>"""


def statement(
    *entries: str,
    namespace: str = NS,
    statement_id: str = "2026-03-02-001",
    iban: str = "DE02120300000000202051",
) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="{namespace}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>MSG-{statement_id}</MsgId><CreDtTm>2026-03-02T08:00:00</CreDtTm></GrpHdr>
    <Stmt>
      <Id>{statement_id}</Id>
      <Acct><Id><IBAN>{iban}</IBAN></Id></Acct>
      {"".join(entries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>""".encode()
