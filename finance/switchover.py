"""The federal switch-over: the whole existing register comes in once, from the export of the
accounting system the federal office uses today.

The file is read as any member sheet is (members.imports: columns by their titles, values by
their spellings, decisions given as JSON), but in bulk and within larger limits. A dry run
(`check`) writes the reconciliation report: members per state and status, the sum of the
opening balances, the rows refused and why, the values that need a decision, the columns not
imported. Applying (`apply`) is all or nothing, and only for a file without refused rows or
open values:

- numbers are kept, and the sequence continues after the highest;
- ended memberships come in as history (ended, with date and reason);
- each member's balance at the cut-over becomes one opening entry in the ledger: a charge
  (owed, in arrears from the cut-over) or a credit; dues that fell due on or before the
  cut-over are in it and never charged again, later ones are charged as for anyone;
- nothing is sent to anyone;
- members already in the register with the same values are left alone, so applying the same
  file twice changes nothing; a member in the register with other values refuses the file.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from finance import payments
from finance.models import Charge, FeeRule, Mandate, OpeningBalance, Payment, Switchover
from finance.services import BATCH, DuesRun, _run_batch, is_adult
from members import imports
from members.models import Division, FeeClass, Member, MemberStatus, PaymentStatus, User
from members.services import record_audit
from members.services.register import EDITABLE_FIELDS
from members.services.switchover import Entry, bring_in
from members.spreadsheets import Limits, SpreadsheetError, limits, read, sheet

logger = logging.getLogger(__name__)

# The register of the largest parties, with room: read from a file the office exported itself.
SWITCHOVER_LIMITS = Limits(
    bytes=1024 * 1024 * 1024,
    rows=1_500_000,
    cells=60_000_000,
    unzipped=4 * 1024 * 1024 * 1024,
    sheet_part=3 * 1024 * 1024 * 1024,
)
LISTED = 500  # refused rows named one by one in the report (all are counted)
# The register's text fields and their lengths (members.models.Member).
TEXT_LIMITS = {
    field.name: field.max_length
    for field in Member._meta.concrete_fields
    if field.name in EDITABLE_FIELDS and getattr(field, "max_length", None)
}


class SwitchoverRefused(ValidationError):
    pass


@dataclass
class Plan:
    """What applying the file would do."""

    entries: list[Entry] = field(default_factory=list)
    balances: list[Decimal] = field(default_factory=list)  # per entry
    ibans: list[str] = field(default_factory=list)  # per entry
    # per entry: (reference, signed on, last used on) of the member's SEPA mandate, or None
    mandates: list[tuple[str, date, date | None] | None] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def _root() -> Division:
    return Division.objects.get(depth=1)


def plan(content: bytes, filename: str, *, values: dict[str, Any] | None, cutover_on: date) -> Plan:
    """Read and check the file; what applying it would bring in, and the report."""
    root = _root()
    decisions = imports.choices_from_json(values or {}, division=root, user=None)
    with limits(SWITCHOVER_LIMITS):
        parsed = sheet(read(content, filename), set(imports.HEADER_TO_FIELD))
        mapping = imports.guess_mapping(parsed.header, switchover=True)
        validation = imports.validate(
            rows=parsed.rows,
            row_numbers=parsed.row_numbers,
            mapping=mapping,
            user=None,
            division=root,
            decisions=imports.Decisions(
                values=decisions["values"], dates=decisions["dates"], remembered={}
            ),
            header=parsed.header,
        )
    labels = imports.field_labels(switchover=True)
    result = Plan()
    refused: list[dict[str, Any]] = []
    reasons: Counter[str] = Counter()
    ignored: list[dict[str, Any]] = []
    already = 0
    per_state: dict[str, Counter[str]] = defaultdict(Counter)
    states = {d.path: d.code for d in Division.objects.filter(depth=2)}
    references = Counter(
        r.values.get("mandate_reference")
        for r in validation.results
        if r.values.get("mandate_reference")
    )
    taken = set(
        Mandate.objects.filter(reference__in=list(references)).values_list("reference", flat=True)
    )
    for row in validation.results:
        values = row.values
        problems = list(row.errors)
        mandate = _mandate(values, problems, references, taken, cutover_on)
        if row.status == "skipped" and not values:  # a total, a heading: no member at all
            ignored.append({"row": row.row, "why": "; ".join(row.warnings)})
            continue
        if row.status == "unchanged":
            already += 1
            continue
        if row.status == "changed":
            problems.append(
                _("the register has this member with other values: %s")
                % ", ".join(labels.get(name, name) for name in row.diff)
            )
        if not row.proposable:  # someone in the register already has this name and birthday
            problems += row.warnings[1:]
        # Every reason at once (the person fixes the file in one go).
        entry = (
            _entry(values, problems, cutover_on)
            if row.status in ("unknown", "error", "new", "skipped")
            else None
        )
        if entry is None:
            for problem in problems:
                reasons[problem if len(problem) < 90 else problem[:87] + "…"] += 1
            refused.append(
                {
                    "row": row.row,
                    "number": values.get("membership_number"),
                    "name": f"{values.get('first_name', '')} {values.get('last_name', '')}",
                    "reasons": problems,
                }
            )
            continue
        result.entries.append(entry)
        result.balances.append(values.get("balance") or Decimal(0))
        result.ibans.append(values.get("iban") or "")
        result.mandates.append(mandate)
        state = states.get(entry.division.path[: 2 * Division.steplen], _("federal"))
        per_state[state][entry.status] += 1
    owed = sum((b for b in result.balances if b < 0), Decimal(0))
    credit = sum((b for b in result.balances if b > 0), Decimal(0))
    open_values = [
        {
            "field": name,
            "text": item["text"],
            "count": item["count"],
            "candidates": item["candidates"],
        }
        for name, items in validation.findings["values"].items()
        for item in items
        if not item["choice"]
    ]
    open_dates = [
        {"field": name, **question}
        for name, question in validation.findings["dates"].items()
        if (question["partial"] and not question["fill"])
        or (question["ambiguous"] and not question["order"])
    ]
    result.report = {
        "file": filename,
        "cutover_on": cutover_on.isoformat(),
        "rows": len(validation.results),
        "header_row": parsed.header_row,
        "columns": {
            title or f"#{index + 1}": labels.get(mapping.get(str(index), ""), "")
            for index, title in enumerate(parsed.header)
        },
        "not_imported_columns": validation.findings["unmapped"],
        "to_bring_in": len(result.entries),
        "already_in_register": already,
        "refused": len(refused),
        "refused_reasons": dict(reasons.most_common(50)),
        "refused_rows": refused[:LISTED],
        "ignored_rows": ignored[:LISTED],
        "ignored": len(ignored),
        "per_state": {state: dict(counts) for state, counts in sorted(per_state.items())},
        "opening": {
            "owed": str(-owed),
            "credit": str(credit),
            "members_owing": sum(1 for b in result.balances if b < 0),
            "members_in_credit": sum(1 for b in result.balances if b > 0),
            "net": str(owed + credit),
        },
        "open_values": open_values,
        "open_dates": open_dates,
    }
    result.report["ready"] = not refused and not open_values and not open_dates
    return result


def _as_date(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) and value else value or None


def _mandate(
    values: dict[str, Any],
    problems: list[str],
    references: Counter[str],
    taken: set[str],
    cutover_on: date,
) -> tuple[str, date, date | None] | None:
    """The row's SEPA mandate, when it names one: its reference (once in the file, new to
    the register), the IBAN it debits (valid, as schwifty checks it) and its signing date."""
    from finance import sepa

    reference = (values.get("mandate_reference") or "").strip()
    signed_on = _as_date(values.get("mandate_signed_on"))
    last_used = _as_date(values.get("mandate_last_used"))
    if not reference:
        if signed_on or last_used:
            problems.append(_("a mandate date without the mandate reference"))
        return None
    found = len(problems)
    if len(reference) > 35 or not sepa.MANDATE_REFERENCE.fullmatch(reference):
        problems.append(_("the mandate reference “%s” is not a SEPA reference") % reference)
    elif references[reference] > 1:
        problems.append(_("the mandate reference %s is in the file more than once") % reference)
    elif reference in taken:
        problems.append(_("the mandate reference %s is in the register already") % reference)
    if not values.get("iban"):
        problems.append(_("a mandate without the IBAN it debits"))
    else:
        try:
            sepa.check_iban(values["iban"])
        except ValidationError as error:
            problems.extend(error.messages)
    if signed_on is None:
        problems.append(_("a mandate without its signing date"))
    elif signed_on > cutover_on or (last_used and last_used < signed_on):
        problems.append(_("the mandate's dates are not possible"))
    if len(problems) > found or signed_on is None:
        return None
    return reference, signed_on, last_used


def _entry(values: dict[str, Any], problems: list[str], cutover_on: date) -> Entry | None:
    """The member a clean row describes, or None with the reasons added to `problems`: the
    checks an admission makes (field lengths, the fee class a person may be in), in bulk."""
    for name, value in values.items():
        limit = TEXT_LIMITS.get(name)
        if limit and isinstance(value, str) and len(value) > limit:
            problems.append(
                _("%(field)s is longer than %(limit)s characters")
                % {"field": imports.field_labels(switchover=True).get(name, name), "limit": limit}
            )
    born = values.get("date_of_birth")
    if values.get("fee_class") == FeeClass.MINOR and born and is_adult(born, cutover_on):
        problems.append(_("18 or older at the cut-over, but in the minors' class"))
    division = values.get("division")
    joined = values.get("joined_on")
    status = values.get("status") or ""
    left, reason = values.get("left_on"), values.get("end_reason") or ""
    if not values.get("membership_number"):
        problems.append(_("the membership number is missing"))
    if division is None:
        problems.append(_("the division is missing (a column KV, LV or Gliederung)"))
    if joined is None:
        problems.append(_("the date of entry is missing"))
    if not status:
        status = MemberStatus.ENDED if left else MemberStatus.ACTIVE
    if status == MemberStatus.PENDING and values.get("fee_class") == FeeClass.EXEMPT:
        status = MemberStatus.ACTIVE  # the exempt class owes nothing: active at once
    if status == MemberStatus.ENDED:
        if left is None:
            problems.append(_("an ended membership needs its end date"))
        if not reason:
            problems.append(_("an ended membership needs its reason (e.g. ausgetreten)"))
    elif left is not None:
        problems.append(_("an end date, but the status says the membership runs"))
    if joined and left and left < joined:
        problems.append(_("the membership ends before it began"))
    if problems:
        return None
    return Entry(
        number=values["membership_number"],
        division=division,
        joined_on=joined,
        values={k: v for k, v in values.items() if k in EDITABLE_FIELDS and v not in ("", None)},
        status=status,
        left_on=left,
        end_reason=reason,
    )


def check(switchover: Switchover) -> Switchover:
    """The dry run: the reconciliation report, stored with the switch-over."""
    dry_run(switchover)
    return switchover


def dry_run(switchover: Switchover) -> Plan | None:
    """The dry run; returns what applying would do (None: the file cannot be read, or the
    switch-over is being applied or was: a check delivered twice leaves it alone), which
    the command line hands on to `apply` right away instead of reading the file twice."""
    if switchover.status in (Switchover.Status.APPLYING, Switchover.Status.APPLIED):
        return None
    found = None
    try:
        found = plan(
            bytes(switchover.content),
            switchover.filename,
            values=switchover.values,
            cutover_on=switchover.cutover_on,
        )
    except SpreadsheetError as error:
        switchover.status, switchover.report = Switchover.Status.FAILED, {"error": str(error)}
    else:
        switchover.status, switchover.report = Switchover.Status.CHECKED, found.report
    switchover.save(update_fields=["status", "report"])
    return found


def create(
    *,
    by: User | None,
    content: bytes,
    filename: str,
    values: dict[str, Any] | None = None,
    cutover_on: date | None = None,
) -> Switchover:
    if cutover_on is not None and cutover_on > timezone.localdate():
        raise SwitchoverRefused(_("The cut-over date may not lie in the future."))
    switchover = Switchover.objects.create(
        filename=filename[:255],
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        values=values or {},
        cutover_on=cutover_on or timezone.localdate(),
        created_by=by,
    )
    record_audit(
        actor=by,
        action="switchover.uploaded",
        obj=switchover,
        summary=f"{filename} uploaded for the switch-over",
        data={"sha256": switchover.sha256},
    )
    return switchover


def apply(switchover: Switchover, *, by: User | None, found: Plan | None = None) -> int:
    """Bring the register in (all or nothing); returns how many members came in. Refused
    when the file has refused rows or open values, or brings in nobody (applied already).
    `found`: the dry run's plan of a moment ago (else the file is read and checked again;
    a number taken meanwhile fails the whole transaction on its unique constraint)."""
    if found is None:
        found = plan(
            bytes(switchover.content),
            switchover.filename,
            values=switchover.values,
            cutover_on=switchover.cutover_on,
        )
    if not found.report["ready"]:
        raise SwitchoverRefused(
            _("Nothing was applied: %(refused)s rows are refused and %(open)s values are open.")
            % {
                "refused": found.report["refused"],
                "open": len(found.report["open_values"]) + len(found.report["open_dates"]),
            }
        )
    if not found.entries:
        raise SwitchoverRefused(
            _("Nothing was applied: every member of the file is in the register already.")
        )
    with transaction.atomic():
        locked = Switchover.objects.select_for_update().get(pk=switchover.pk)
        if locked.status == Switchover.Status.APPLIED:
            raise SwitchoverRefused(_("This switch-over has been applied already."))
        on = switchover.cutover_on
        entries = [
            replace(entry, payment_state=_opening_state(entry, balance, on))
            for entry, balance in zip(found.entries, found.balances, strict=True)
        ]
        ids = bring_in(entries=entries, by=by, reason=f"Umstellung {switchover.filename}")
        _ledger(switchover, ids, found, by=by)
        found.report["applied"] = len(ids)
        locked.status, locked.report = Switchover.Status.APPLIED, found.report
        locked.applied_at = timezone.now()
        locked.content = b""  # the file has served its purpose; its hash stays
        locked.save(update_fields=["status", "report", "applied_at", "content"])
        record_audit(
            actor=by,
            action="switchover.applied",
            obj=locked,
            summary=f"{switchover.filename}: {len(ids)} members brought in",
            data={
                "sha256": switchover.sha256,
                "members": len(ids),
                "opening": found.report["opening"],
                "per_state": found.report["per_state"],
            },
        )
    return len(ids)


def _opening_state(entry: Entry, balance: Decimal, on: date) -> tuple[Decimal, str, date | None]:
    """What the ledger says of a member whose only entry is the opening one (the cut-over lies
    on or before today): owed since the cut-over, overdue at once; else paid up (exempt).
    Members charged dues besides are computed again from the ledger (`_ledger`)."""
    if balance < 0:
        return balance, PaymentStatus.IN_ARREARS, on
    exempt = entry.values.get("fee_class") == FeeClass.EXEMPT
    return balance, PaymentStatus.EXEMPT if exempt else PaymentStatus.PAID_UP, None


def _mandates(ids: list[int], found: Plan) -> None:
    """The mandates the previous system held, each for the account the member pays from."""
    from finance import sepa

    rows = []
    for pk, entry, iban, mandate in zip(
        ids, found.entries, found.ibans, found.mandates, strict=True
    ):
        if mandate is None:
            continue
        reference, signed_on, last_used = mandate
        compact, bic = sepa.check_iban(iban)
        holder = f"{entry.values.get('first_name', '')} {entry.values.get('last_name', '')}"
        rows.append(
            Mandate(
                member_id=pk,
                reference=reference,
                signed_on=signed_on,
                holder=" ".join(holder.split())[:70],
                iban=compact,
                bic=bic,
                last_collected_on=last_used,
                revoked_on=entry.left_on if entry.status == MemberStatus.ENDED else None,
            )
        )
    Mandate.objects.bulk_create(rows, batch_size=BATCH)


def _ledger(switchover: Switchover, ids: list[int], found: Plan, *, by: User | None) -> None:
    """Opening balances as one entry each, then the dues the previous system had not charged
    yet (those falling due after the cut-over), then every member's stored state."""
    on = switchover.cutover_on
    balances = found.balances
    OpeningBalance.objects.bulk_create(
        (
            OpeningBalance(member_id=pk, switchover=switchover, on=on, balance=balance, iban=iban)
            for pk, balance, iban in zip(ids, balances, found.ibans, strict=True)
        ),
        batch_size=BATCH,
    )
    _mandates(ids, found)
    Charge.objects.bulk_create(
        (
            Charge(
                member_id=pk,
                year=on.year,
                kind=Charge.Kind.OPENING,
                amount=-balance,
                due_on=on,
                overdue_on=on,  # owed before the switch-over: in arrears from day one
                memo="Saldo aus dem bisherigen System",
                created_by=by,
            )
            for pk, balance in zip(ids, balances, strict=True)
            if balance < 0
        ),
        batch_size=BATCH,
    )
    Payment.objects.bulk_create(
        (
            Payment(
                member_id=pk,
                match=Payment.Match.MANUAL,
                amount=balance,
                booked_on=on,
                method=Payment.Method.OPENING,
                purpose=Payment.Purpose.DUES,
                reference="Guthaben aus dem bisherigen System",
            )
            for pk, balance in zip(ids, balances, strict=True)
            if balance > 0
        ),
        batch_size=BATCH,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # as in members.services.switchover
            cursor.execute("ANALYZE finance_charge, finance_payment, finance_openingbalance")
    rules = list(FeeRule.objects.order_by("-valid_from"))
    today = timezone.localdate()
    # Members with more than their opening entry: their state comes from the ledger.
    recompute: list[int] = []
    for year in range(on.year, today.year + 1):
        due = [
            date(year, rule.due_month, rule.due_day)
            for rule in rules
            if rule.valid_from.year <= year
            and (rule.valid_until is None or rule.valid_until.year >= year)
        ]
        charged = ids
        if year == on.year and due and max(due) <= on:
            # The cut-over year's dues fell due before the cut-over: in the balances, but for
            # someone who joins after it.
            charged = [
                pk for pk, entry in zip(ids, found.entries, strict=True) if entry.joined_on > on
            ]
        recompute += charged
        for start in range(0, len(charged), BATCH):
            _run_batch(
                charged[start : start + BATCH],
                year=year,
                rules=rules,
                by=by,
                result=DuesRun(year=year),
                refresh=False,
            )
    recompute = sorted(set(recompute))
    for start in range(0, len(recompute), BATCH):
        payments.refresh(recompute[start : start + BATCH])
