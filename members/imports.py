"""Legacy spreadsheets into the register: map columns, validate every row, apply all or nothing.

A state board's import becomes one batch of change requests for the federal office; a federal
admin's import is applied directly. Nothing is written while any row has an error.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from members import access, services
from members.access import Action
from members.models import ChangeRequest, Division, ImportBatch, Member, RequestKind, User
from members.models.register import json_value
from members.services.register import EDITABLE_FIELDS
from members.spreadsheets import (
    FORMULA_STARTS,
    FormulaWithoutValue,
    SpreadsheetError,
    neutralise,
    normalise_header,
    read,
    sheet,
)

# Header spellings, normalised (see spreadsheets.normalise_header), for each member field.
ALIASES: dict[str, list[str]] = {
    "membership_number": [
        "mitgliedsnummer",
        "mitglnr",
        "mitgliedsnr",
        "mitgliednr",
        "mnr",
        "nummer",
        "nr",
        "membershipnumber",
        "membernumber",
        "memberno",
    ],
    "first_name": ["vorname", "rufname", "firstname", "givenname"],
    "last_name": ["nachname", "name", "familienname", "zuname", "lastname", "surname"],
    "street": [
        "strasse",
        "str",
        "strassehausnummer",
        "strasseundhausnummer",
        "strassenr",
        "anschrift",
        "adresse",
        "street",
        "address",
    ],
    "postal_code": ["plz", "postleitzahl", "postalcode", "zip", "zipcode"],
    "city": ["ort", "wohnort", "stadt", "city", "town"],
    "email": ["email", "mail", "emailadresse", "mailadresse"],
    "phone": ["telefon", "tel", "telefonnummer", "telnr", "mobil", "handy", "phone"],
    "date_of_birth": [
        "geburtsdatum",
        "geburtstag",
        "gebdatum",
        "geb",
        "dateofbirth",
        "birthday",
        "birthdate",
    ],
    "joined_on": [
        "eintritt",
        "eintrittsdatum",
        "mitgliedseit",
        "eintrittam",
        "joined",
        "joinedon",
        "entrydate",
    ],
    "division": ["gliederung", "kv", "kreisverband", "ov", "ortsverband", "verband", "division"],
    "fee_class": ["beitragsklasse", "beitrag", "beitragsart", "feeclass", "fee"],
}
HEADER_TO_FIELD = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
FIELDS = list(ALIASES)
REQUIRED = ("first_name", "last_name")
FEE_CLASSES = {
    "regular": {"regulaer", "regular", "normal", "voll", "vollzahler", "standard"},
    "reduced": {"ermaessigt", "reduziert", "reduced", "ermaessigung"},
    "minor": {"minderjaehrig", "jugendlich", "unter18", "minor"},
    "exempt": {"befreit", "beitragsfrei", "exempt", "frei", "keiner"},
}
COMPARED = (
    "first_name",
    "last_name",
    "street",
    "postal_code",
    "city",
    "email",
    "phone",
    "date_of_birth",
    "fee_class",
)
PROGRESS_KEY = "members-import-progress-{}"
logger = logging.getLogger(__name__)


def field_labels() -> dict[str, str]:
    labels = {
        f.name: str(f.verbose_name) for f in Member._meta.get_fields() if hasattr(f, "verbose_name")
    }
    labels["division"] = _("division (code or name)")
    return {name: capfirst(labels.get(name, name)) for name in FIELDS}


def guess_mapping(header: list[str]) -> dict[str, str]:
    mapping, used = {}, set()
    for index, title in enumerate(header):
        target = HEADER_TO_FIELD.get(normalise_header(title), "")
        if target in used:
            target = ""
        used.add(target)
        mapping[str(index)] = target
    return mapping


# --- Cleaning single values ----------------------------------------------------------------


class CellError(Exception):
    pass


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, FormulaWithoutValue):
        raise CellError(_("formula without a saved result (open and save the file in Excel)"))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split())
    # Our own exports neutralise cells a spreadsheet would run as a formula.
    if text.startswith("'") and text[1:].startswith(FORMULA_STARTS):
        text = text[1:]
    return text


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        # An Excel serial number (1900 date system); below 1910 it is a year or a typo.
        if 3653 <= value < 80000:
            return date(1899, 12, 30) + timedelta(days=int(value))
        raise CellError(_("“%s” is not a date") % value)
    text = _text(value)
    match = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{2}|\d{4})", text)
    try:
        if match:
            day, month, year = (int(part) for part in match.groups())
            if year < 100:
                this_year = timezone.localdate().year % 100
                year += 2000 if year <= this_year else 1900
            return date(year, month, day)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise CellError(_("“%s” is not a date (e.g. 01.02.2019)") % text)


def _past(day: date | None) -> date | None:
    if day is not None and day > timezone.localdate():
        raise CellError(_("%s lies in the future") % date_format(day, "SHORT_DATE_FORMAT"))
    return day


def _postal_code(value: Any) -> str:
    text = _text(value).replace(" ", "")
    if not text:
        return ""
    if text.isdigit() and len(text) == 4 and not text.startswith("0"):
        text = "0" + text  # Excel dropped the leading zero (e.g. 1067 Dresden)
    if not (text.isdigit() and len(text) == 5):
        raise CellError(_("postal code “%s” does not have five digits") % text)
    return text


def _phone(value: Any) -> str:
    text = _text(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and not text.startswith("0"):
        text = "0" + text  # stored as a number, the leading zero went missing
    return text


def _email(value: Any) -> str:
    text = _text(value).lower()
    if text:
        try:
            validate_email(text)
        except ValidationError as error:
            raise CellError(_("“%s” is not an e-mail address") % text) from error
    return text


def _fee_class(value: Any) -> str:
    text = normalise_header(value)
    if not text:
        return ""
    for fee_class, spellings in FEE_CLASSES.items():
        if text in spellings:
            return fee_class
    raise CellError(_("fee class “%s” is unknown (regulär, ermäßigt or befreit)") % _text(value))


def _number(value: Any) -> int | None:
    text = _text(value)
    if not text:
        return None
    if not text.isdigit():
        raise CellError(_("membership number “%s” is not a number") % text)
    return int(text)


CLEANERS = {
    "membership_number": _number,
    "date_of_birth": lambda value: _past(_date(value)),
    "joined_on": lambda value: _past(_date(value)),
    "postal_code": _postal_code,
    "phone": _phone,
    "email": _email,
    "fee_class": _fee_class,
}


# --- Validating a sheet ---------------------------------------------------------------------


@dataclass
class RowResult:
    row: int
    status: str = "new"  # new, changed, unchanged, error
    errors: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    member_id: int | None = None
    diff: dict[str, list[Any]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        values = {k: json_value(v) for k, v in self.values.items()}
        return {
            "row": self.row,
            "status": self.status,
            "errors": self.errors,
            "values": values,
            "member_id": self.member_id,
            "diff": self.diff,
        }


def _divisions_for(user: User | None, division: Division) -> dict[str, Division]:
    """Divisions a row may name, by normalised code and name: the upload's subtree."""
    qs = Division.objects.subtree_of(division)
    if user is not None:
        qs = qs.visible_to(user, Action.REQUEST_CHANGE)
    lookup = {}
    for candidate in qs:
        lookup[normalise_header(candidate.code)] = candidate
        lookup[normalise_header(candidate.name)] = candidate
    return lookup


def validate(
    *,
    rows: list[list[Any]],
    row_numbers: list[int],
    mapping: dict[str, str],
    user: User | None,
    division: Division,
    progress: Any = None,
) -> list[RowResult]:
    """Clean and check every row; classify it as new, changed, unchanged or an error."""
    columns = {int(index): target for index, target in mapping.items() if target}
    divisions = _divisions_for(user, division)
    results = []
    for position, (row, number) in enumerate(zip(rows, row_numbers, strict=True)):
        result = RowResult(row=number)
        for index, target in columns.items():
            value = row[index] if index < len(row) else None
            try:
                cleaned = CLEANERS.get(target, _text)(value)
            except CellError as error:
                result.errors.append(str(error))
                continue
            if target == "division":
                if cleaned:
                    found = divisions.get(normalise_header(cleaned))
                    if found is None:
                        result.errors.append(
                            _("division “%s” is unknown or outside your area") % cleaned
                        )
                        continue
                    cleaned = found
                else:
                    cleaned = None
            result.values[target] = cleaned
        for required in REQUIRED:
            if not result.values.get(required) and required in columns.values():
                result.errors.append(_("%s is missing") % field_labels()[required])
        if progress and position % 500 == 0:
            progress(position)
        results.append(result)
    if not all(r in columns.values() for r in REQUIRED):
        raise SpreadsheetError(_("Assign the columns for first name and last name."))
    _check_duplicates_in_file(results)
    _compare_with_register(results, user=user, division=division)
    for result in results:
        if result.errors:
            result.status = "error"
    return results


def _check_duplicates_in_file(results: list[RowResult]) -> None:
    def key_name(r: RowResult) -> tuple | None:
        born = r.values.get("date_of_birth")
        if not (born and r.values.get("last_name")):
            return None
        return (r.values["last_name"].lower(), r.values.get("first_name", "").lower(), born)

    for label, key in (
        (_("the same membership number"), lambda r: r.values.get("membership_number")),
        (_("the same name and date of birth"), key_name),
        (_("the same e-mail address"), lambda r: r.values.get("email") or None),
    ):
        counts = Counter(k for r in results if (k := key(r)) is not None)
        for result in results:
            k = key(result)
            if k is not None and counts[k] > 1:
                rows = [str(r.row) for r in results if key(r) == k and r is not result]
                result.errors.append(
                    _("%(what)s as row %(rows)s") % {"what": label, "rows": ", ".join(rows)}
                )


def _chunks(items: list[Any], size: int = 1000) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _compare_with_register(
    results: list[RowResult], *, user: User | None, division: Division
) -> None:
    visible = (
        Member.objects.all()
        if user is None
        else Member.objects.visible_to(user, Action.REQUEST_CHANGE)
    )
    visible = visible.filter(division__path__startswith=division.path)
    numbers = [r.values["membership_number"] for r in results if r.values.get("membership_number")]
    known: dict[int, Member] = {}
    for chunk in _chunks(numbers):
        known.update({m.membership_number: m for m in visible.filter(membership_number__in=chunk)})
    newcomers = [r for r in results if not r.values.get("membership_number")]
    names = sorted(
        {r.values.get("last_name", "") for r in newcomers if r.values.get("date_of_birth")}
    )
    emails = sorted({r.values["email"] for r in newcomers if r.values.get("email")})
    # A board learns only about people in its own area (the federal office: everywhere), and
    # about entries already requested there; the federal office checks again on approval.
    scope = (
        Member.objects.current()
        if user is None
        else Member.objects.visible_to(user, Action.REQUEST_CHANGE)
    )
    pending = ChangeRequest.objects.open().filter(kind=RequestKind.ENTRY)
    if user is not None:
        pending = pending.visible_to(user, Action.REQUEST_CHANGE)
    people: set[tuple] = set()
    addresses: set[str] = set()
    for chunk in _chunks(names):
        people |= set(
            scope.current()
            .filter(last_name__in=chunk)
            .values_list("last_name", "first_name", "date_of_birth")
        )
        for proposed in pending.filter(proposed__last_name__in=chunk).values_list(
            "proposed", flat=True
        ):
            if proposed.get("date_of_birth"):
                born = date.fromisoformat(proposed["date_of_birth"])
                people.add((proposed.get("last_name"), proposed.get("first_name"), born))
    for chunk in _chunks(emails):
        addresses |= set(scope.current().filter(email__in=chunk).values_list("email", flat=True))
        addresses |= set(
            pending.filter(proposed__email__in=chunk).values_list("proposed__email", flat=True)
        )
    for result in results:
        number = result.values.get("membership_number")
        if number:
            member = known.get(number)
            if member is None:
                result.errors.append(
                    _("membership number %s is not in your area of the register") % number
                )
                continue
            _diff(result, member)
            continue
        values = result.values
        if (
            values.get("last_name"),
            values.get("first_name"),
            values.get("date_of_birth"),
        ) in people:
            result.errors.append(
                _("a member with the same name and date of birth is already in the register")
            )
        if values.get("email") and values["email"] in addresses:
            result.errors.append(_("a member with this e-mail address is already in the register"))


def _diff(result: RowResult, member: Member) -> None:
    result.member_id = member.pk
    division = result.values.get("division")
    if division is not None and division.pk != member.division_id:
        result.errors.append(
            _("the division differs from the register: request a transfer instead")
        )
    for name in COMPARED:
        if name not in result.values:
            continue
        new, old = result.values[name], getattr(member, name)
        if new in ("", None):
            continue  # an empty cell (or the lower part of a merged one) keeps the register's value
        if (new or None) != (old or None):
            result.diff[name] = [json_value(old), json_value(new)]
    result.status = "changed" if result.diff else "unchanged"


# --- The batch: upload, check, apply ------------------------------------------------------


def create_batch(*, by: User, division: Division, content: bytes, filename: str) -> ImportBatch:
    batch = ImportBatch.objects.create(
        division=division,
        uploaded_by=by,
        filename=filename[:255],
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
    )
    services.record_audit(
        actor=by,
        action="import.uploaded",
        obj=batch,
        division=division,
        summary=f"{filename} uploaded",
        data={"sha256": batch.sha256},
    )
    return batch


def _progress(batch_id: int, total: int) -> Any:
    def report(done: int) -> None:
        cache.set(PROGRESS_KEY.format(batch_id), (done, total), 3600)

    return report


def progress_of(batch: ImportBatch) -> tuple[int, int]:
    return cache.get(PROGRESS_KEY.format(batch.pk)) or (0, batch.total_rows)


def check_batch(*, batch_id: int, mapping: dict[str, str] | None = None) -> ImportBatch:
    """Read the file, map (guess or take `mapping`), validate every row, store the report."""
    batch = ImportBatch.objects.select_related("division", "uploaded_by").get(pk=batch_id)
    user = None if access.has_global_access(batch.uploaded_by) else batch.uploaded_by
    try:
        parsed = sheet(read(bytes(batch.content), batch.filename), set(HEADER_TO_FIELD))
        batch.header, batch.header_row = parsed.header, parsed.header_row
        batch.total_rows = len(parsed.rows)
        batch.cells = {
            "rows": [[_json_cell(cell) for cell in row] for row in parsed.rows],
            "numbers": parsed.row_numbers,
        }
        batch.mapping = mapping or batch.mapping or guess_mapping(parsed.header)
        results = validate(
            rows=parsed.rows,
            row_numbers=parsed.row_numbers,
            mapping=batch.mapping,
            user=user,
            division=batch.division,
            progress=_progress(batch.pk, batch.total_rows),
        )
    except Exception as error:
        if isinstance(error, SoftTimeLimitExceeded):
            error = SpreadsheetError(
                _(
                    "Reading the file took too long. Please save the member rows alone and upload again."
                )
            )
        elif not isinstance(error, SpreadsheetError):
            logger.exception("Import %s could not be checked", batch_id)
            error = SpreadsheetError(_("The file could not be read."))
        batch.status, batch.error, batch.report = ImportBatch.Status.FAILED, str(error), []
        if batch.header:
            batch.status = ImportBatch.Status.CHECKED  # the mapping can still be corrected
        batch.new = batch.changed = batch.unchanged = batch.errors = 0
        batch.save()
        return batch
    counts = Counter(r.status for r in results)
    batch.report = [r.as_json() for r in results]
    batch.new, batch.changed, batch.unchanged, batch.errors = (
        counts["new"],
        counts["changed"],
        counts["unchanged"],
        counts["error"],
    )
    batch.status, batch.error = ImportBatch.Status.CHECKED, ""
    batch.finished_at = timezone.now()  # identifies this preview: submitting names it
    batch.save()
    cache.set(PROGRESS_KEY.format(batch.pk), (batch.total_rows, batch.total_rows), 3600)
    return batch


def _member_values(values: dict[str, Any]) -> dict[str, Any]:
    cleaned = {}
    for name, value in values.items():
        if name in EDITABLE_FIELDS and value not in ("", None):
            cleaned[name] = date.fromisoformat(value) if name == "date_of_birth" else value
    return cleaned


def _uploader_only(batch: ImportBatch, by: User) -> None:
    """An import is its uploader's: nobody else re-maps, discards or submits it (a board
    that may see the division could otherwise re-map a file someone else then submits)."""
    if batch.uploaded_by_id != by.pk:
        raise PermissionDenied(_("Only the person who uploaded the file can change it."))


def discard_batch(*, batch: ImportBatch, by: User) -> bool:
    """Drop a checked or unreadable import, and its file; audited."""
    _uploader_only(batch, by)
    discardable = [ImportBatch.Status.CHECKED, ImportBatch.Status.FAILED]
    with transaction.atomic():
        discarded = ImportBatch.objects.filter(pk=batch.pk, status__in=discardable).update(
            status=ImportBatch.Status.DISCARDED,
            content=b"",
            cells={},
            finished_at=timezone.now(),
        )
        if discarded:
            services.record_audit(
                actor=by,
                action="import.discarded",
                obj=batch,
                division=batch.division,
                summary=f"{batch.filename} discarded",
            )
    return bool(discarded)


def start_check(*, batch: ImportBatch, by: User, mapping: dict[str, str] | None = None) -> None:
    """Check the file again (with a corrected mapping): the preview shown so far is void."""
    from members import tasks

    _uploader_only(batch, by)
    ImportBatch.objects.filter(pk=batch.pk).update(
        status=ImportBatch.Status.VALIDATING, error="", finished_at=None
    )
    cache.set(PROGRESS_KEY.format(batch.pk), (0, batch.total_rows), 3600)
    transaction.on_commit(lambda: tasks.check_import.delay(batch.pk, mapping))


def start_apply(*, batch: ImportBatch, by: User, checked_at: str) -> bool:
    """Claim the checked batch for applying; False if it is not (or no longer) applicable,
    or if it was checked again since the preview `checked_at` (its finish time) was shown."""
    from members import tasks

    _uploader_only(batch, by)
    if batch.finished_at is None or checked_at != batch.finished_at.isoformat():
        return False
    claimed = (
        ImportBatch.objects.filter(
            pk=batch.pk,
            status=ImportBatch.Status.CHECKED,
            errors=0,
            finished_at=batch.finished_at,
        )
        .exclude(report=[])
        .update(status=ImportBatch.Status.APPLYING)
    )
    if claimed:
        cache.set(PROGRESS_KEY.format(batch.pk), (0, batch.total_rows), 3600)
        transaction.on_commit(lambda: tasks.apply_import.delay(batch.pk))
    return bool(claimed)


def run_apply(*, batch_id: int) -> None:
    """The task's body: apply, or put the batch back with the reason if anything fails."""
    try:
        apply_batch(batch_id=batch_id)
    except Exception as error:
        ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.APPLYING).update(
            status=ImportBatch.Status.CHECKED, error=_("Nothing was applied: %s") % error
        )
        if not isinstance(error, ValidationError):
            raise


@transaction.atomic
def apply_batch(*, batch_id: int) -> ImportBatch:
    """All or nothing: change requests for a state board, the register for the federal office."""
    batch = (
        ImportBatch.objects.select_for_update()
        .select_related("division", "uploaded_by")
        .get(pk=batch_id)
    )
    applicable = (ImportBatch.Status.CHECKED, ImportBatch.Status.APPLYING)
    if batch.status not in applicable or batch.errors or not batch.report:
        raise ValidationError(_("Only a checked import without errors can be applied."))
    by = batch.uploaded_by
    direct = access.has_global_access(by)
    divisions = {d.pk: d for d in Division.objects.subtree_of(batch.division)}
    codes = {normalise_header(d.code): d for d in divisions.values()}
    codes |= {normalise_header(d.name): d for d in divisions.values()}
    today = timezone.localdate()
    report = _progress(batch.pk, batch.total_rows)
    for position, row in enumerate(batch.report):
        values = _member_values(row["values"])
        if row["status"] == "new":
            target = (
                codes.get(normalise_header(row["values"].get("division") or "")) or batch.division
            )
            joined = (
                date.fromisoformat(row["values"]["joined_on"])
                if row["values"].get("joined_on")
                else today
            )
            if direct:
                services.admit_member(
                    by=by,
                    division=target,
                    values=values,
                    joined_on=joined,
                    reason=f"Import {batch.filename}",
                    welcome=False,  # the federal office's import brings in an existing register
                )
            else:
                request = services.submit_change_request(
                    by=by,
                    kind=RequestKind.ENTRY,
                    division=target,
                    values=values,
                    effective_on=min(joined, today),
                    note=f"Import {batch.filename}, Zeile {row['row']}",
                    granting=False,
                )
                request.batch = batch
                request.save(update_fields=["batch"])
        elif row["status"] == "changed":
            member = Member.objects.select_for_update().get(pk=row["member_id"])
            current = member.register_values()
            if any(current.get(name) != old for name, (old, _new) in row["diff"].items()):
                raise ValidationError(
                    _(
                        "Row %s: the member has changed since the file was checked; please check it again."
                    )
                    % row["row"]
                )
            changes = {
                name: _member_values({name: new}).get(name, new)
                for name, (_old, new) in row["diff"].items()
            }
            if direct:
                services.update_member(
                    by=by,
                    member=member,
                    changes=changes,
                    reason=f"Import {batch.filename}",
                    granting=False,
                )
            else:
                request = services.submit_change_request(
                    by=by,
                    kind=RequestKind.CONTACT,
                    member=member,
                    values=changes,
                    note=f"Import {batch.filename}, Zeile {row['row']}",
                    granting=False,
                )
                request.batch = batch
                request.save(update_fields=["batch"])
        if position % 200 == 0:
            report(position)
    batch.status = ImportBatch.Status.APPLIED if direct else ImportBatch.Status.SUBMITTED
    batch.finished_at = timezone.now()
    batch.content = b""  # the sheet has served its purpose; keep only its hash and counts
    batch.cells = {}
    batch.save(update_fields=["status", "finished_at", "content", "cells"])
    services.record_audit(
        actor=by,
        action="import.applied" if direct else "import.submitted",
        obj=batch,
        division=batch.division,
        summary=f"{batch.filename}: {batch.new} new, {batch.changed} changed",
        data={
            "sha256": batch.sha256,
            "new": batch.new,
            "changed": batch.changed,
            "unchanged": batch.unchanged,
        },
    )
    return batch


def _json_cell(value: Any) -> Any:
    """A cell as read from the file, kept as JSON (a sheet may hold times of day, too)."""
    return value.isoformat() if isinstance(value, time) else json_value(value)


def error_workbook(batch: ImportBatch) -> bytes:
    """The user's original rows with an error column, to fix in Excel and upload again;
    built from the rows kept at the check, never by reading the upload again."""
    from openpyxl import Workbook

    problems = {r["row"]: "; ".join(r["errors"]) for r in batch.report}
    workbook = Workbook(write_only=True)
    worksheet = workbook.create_sheet(_("Rows"))
    worksheet.append([neutralise(title) for title in batch.header] + [_("Error")])
    rows = batch.cells.get("rows", [])
    numbers = batch.cells.get("numbers", [])
    for row, number in zip(rows, numbers, strict=True):
        worksheet.append(
            [neutralise(cell) for cell in row[: len(batch.header)]] + [problems.get(number, "")]
        )
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
