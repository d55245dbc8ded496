"""Legacy spreadsheets into the register: map columns, map values, validate every row, apply
all or nothing.

A state board's import becomes one batch of change requests for the federal office; a federal
admin's import is applied directly. Nothing is written while any row has an error. Every row
of the sheet is accounted for: imported (new, changed, unchanged), refused with a reason,
listed as not in the register, or listed as not imported (footers, headings, former members).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import InterfaceError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members import access, services
from members.access import Action
from members.import_values import (
    DateError,
    DivisionVocabulary,
    EndReasonVocabulary,
    FeeVocabulary,
    Match,
    StatusVocabulary,
    Vocabulary,
    parse_amount,
    parse_date,
    slash_order,
)
from members.models import (
    ChangeRequest,
    Division,
    DivisionLevel,
    ImportBatch,
    ImportValueChoice,
    Member,
    NumberSequence,
    RequestKind,
    User,
)
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
from ops import dispatch

# Header spellings, normalised (see spreadsheets.normalise_header), for each target. Besides
# the member's fields: a house number, postal code and city, or a whole name in one column;
# status, end and reason of a membership; the fee as an amount; the state association.
ALIASES: dict[str, list[str]] = {
    "membership_number": [
        "mitgliedsnummer",
        "mitgliednummer",
        "mitglnr",
        "mitglnummer",
        "mitgliedsnr",
        "mitgliednr",
        "mnr",
        "nummer",
        "nr",
        "membershipnumber",
        "membernumber",
        "memberno",
    ],
    "first_name": ["vorname", "vornamen", "rufname", "firstname", "givenname"],
    "last_name": [
        "nachname",
        "name",
        "familienname",
        "zuname",
        "lastname",
        "surname",
        "nachnamen",
    ],
    "full_name": [
        "vornamename",
        "namevorname",
        "nachnamevorname",
        "vorundnachname",
        "vorundzuname",
        "nameundvorname",
        "vollstaendigername",
        "fullname",
    ],
    "street": [
        "strasse",
        "str",
        "strassehausnummer",
        "strasseundhausnummer",
        "strassehausnr",
        "strassehnr",
        "strasseundhausnr",
        "strassenr",
        "strasseundnr",
        "strassenummer",
        "strhausnr",
        "strhausnummer",
        "struhausnr",
        "strasseuhausnr",
        "strasseunr",
        "strasseundnummer",
        "strnr",
        "anschrift",
        "adresse",
        "postanschrift",
        "wohnanschrift",
        "street",
        "address",
    ],
    "house_number": ["hausnummer", "hausnr", "hnr"],
    "postal_code": ["plz", "postleitzahl", "postalcode", "zip", "zipcode"],
    "city": ["ort", "wohnort", "stadt", "city", "town", "gemeinde", "ortschaft"],
    "postal_code_city": ["plzort", "plzwohnort", "plzundort", "plzstadt", "ortplz"],
    "email": [
        "email",
        "mail",
        "emailadresse",
        "mailadresse",
        "emailprivat",
        "mailprivat",
        "epost",
    ],
    "phone": [
        "telefon",
        "tel",
        "telefonnummer",
        "telnr",
        "mobil",
        "handy",
        "phone",
        "telefonprivat",
        "telprivat",
        "mobilnummer",
        "mobiltelefon",
        "festnetz",
        "rufnummer",
    ],
    "date_of_birth": [
        "geburtsdatum",
        "geburtstag",
        "gebdatum",
        "gebdat",
        "geb",
        "gebam",
        "geboren",
        "geborenam",
        "dateofbirth",
        "birthday",
        "birthdate",
    ],
    "joined_on": [
        "eintritt",
        "eintrittsdatum",
        "eintrittam",
        "mitgliedseit",
        "mitgliedab",
        "aufnahme",
        "aufnahmedatum",
        "aufnahmeam",
        "beitritt",
        "beitrittsdatum",
        "beitrittam",
        "joined",
        "joinedon",
        "entrydate",
    ],
    "left_on": [
        "austritt",
        "austrittsdatum",
        "austrittam",
        "austrittzum",
        "ausgetretenam",
        "mitgliedbis",
        "ende",
        "endedatum",
        "leftdate",
    ],
    "status": ["status", "mitgliedsstatus", "mitgliedschaftsstatus", "zustand"],
    "end_reason": ["austrittsgrund", "grund", "endegrund", "beendigungsgrund"],
    "state": ["lv", "landesverband", "bundesland", "state"],
    "division": [
        "gliederung",
        "kv",
        "kreisverband",
        "ov",
        "ortsverband",
        "verband",
        "division",
        "untergliederung",
    ],
    "fee_class": ["beitragsklasse", "beitrag", "beitragsart", "feeclass", "fee", "beitragsgruppe"],
    "fee_amount": [
        "jahresbeitrag",
        "monatsbeitrag",
        "beitragshoehe",
        "beitragsbetrag",
        "beitragsstufe",
        "betrag",
        "beitragineuro",
        "beitrageur",
    ],
    "reduced_until": ["ermaessigtbis", "ermaessigungbis", "reduziertbis", "befristetbis"],
    # The switch-over only: the account the member pays from (matched in bank files).
    "iban": ["iban", "kontoiban", "ibannummer", "bankverbindungiban"],
    # The switch-over only: the member's SEPA mandate (finance.sepa), when they pay by debit.
    "mandate_reference": [
        "mandatsreferenz",
        "mandatsref",
        "mandatreferenz",
        "sepamandat",
        "sepamandatsreferenz",
        "mandatsnummer",
    ],
    "mandate_signed_on": [
        "mandatsdatum",
        "mandatvom",
        "mandatunterschriebenam",
        "datumdesmandats",
        "unterschriftsdatummandat",
        "mandatsunterschrift",
    ],
    "mandate_last_used": [
        "letztelastschrift",
        "zuletzteingezogen",
        "mandatzuletztgenutzt",
        "letzterlastschrifteinzug",
    ],
    # The switch-over only: what the member owed (negative) or had in credit.
    "balance": [
        "saldo",
        "saldoeur",
        "kontostand",
        "offenerbetrag",
        "offenerposten",
        "offen",
        "rueckstand",
        "stand",
    ],
}
SWITCHOVER_ONLY = frozenset(
    {"balance", "iban", "mandate_reference", "mandate_signed_on", "mandate_last_used"}
)
HEADER_TO_FIELD = {alias: name for name, aliases in ALIASES.items() for alias in aliases}
FIELDS = [name for name in ALIASES if name not in SWITCHOVER_ONLY]
REQUIRED = ("first_name", "last_name")
DATE_FIELDS = (
    "date_of_birth",
    "joined_on",
    "left_on",
    "reduced_until",
    "mandate_signed_on",
    "mandate_last_used",
)
# Targets that hold one of a fixed set of values: each distinct value is matched once.
VOCABULARY_FIELDS = ("state", "division", "fee_class", "fee_amount", "status", "end_reason")
EMPTY = "-"  # a value chosen to mean nothing (the cell is read as empty)
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
    "dues_tier",
)
# The first cell of a row that sums up the sheet rather than naming a member.
FOOTER_WORDS = re.compile(
    r"^(summe|gesamt|insgesamt|total|anzahl|gesamtzahl|mitglieder ?gesamt|"
    r"ende der liste|sum|count)\b",
    re.IGNORECASE,
)
PROGRESS_KEY = "members-import-progress-{}"
logger = logging.getLogger(__name__)

EXTRA_LABELS = {
    "full_name": gettext_lazy("name (first and last in one column)"),
    "house_number": gettext_lazy("house number"),
    "postal_code_city": gettext_lazy("postal code and city"),
    "division": gettext_lazy("division (code or name)"),
    "state": gettext_lazy("state association"),
    "status": gettext_lazy("status"),
    "end_reason": gettext_lazy("reason for leaving"),
    "fee_amount": gettext_lazy("fee amount"),
    "balance": gettext_lazy("balance at the switch-over"),
    "iban": gettext_lazy("IBAN"),
    "mandate_reference": gettext_lazy("mandate reference"),
    "mandate_signed_on": gettext_lazy("mandate signed on"),
    "mandate_last_used": gettext_lazy("mandate last used on"),
}


def field_labels(*, switchover: bool = False) -> dict[str, str]:
    labels = {
        f.name: str(f.verbose_name) for f in Member._meta.get_fields() if hasattr(f, "verbose_name")
    }
    labels |= {name: str(label) for name, label in EXTRA_LABELS.items()}
    names = list(ALIASES) if switchover else FIELDS
    return {name: capfirst(labels.get(name, name)) for name in names}


def guess_mapping(header: list[str], *, switchover: bool = False) -> dict[str, str]:
    """Each column's target from its title; the first column wins a target. A "Nr." right
    of the street is its house number; a lone "Name" beside no first name is the whole name.
    A balance is read by the switch-over only (an upload's balance column is not imported)."""
    keys = [normalise_header(title) for title in header]
    mapping, used = {}, set()
    for index, key in enumerate(keys):
        target = HEADER_TO_FIELD.get(key, "")
        if target in SWITCHOVER_ONLY and not switchover:
            target = ""
        previous = mapping.get(str(index - 1), "")
        if key in ("nr", "hausnr", "hnr", "nummer") and previous == "street":
            target = "house_number"
        if target in used:
            target = ""
        used.add(target)
        mapping[str(index)] = target
    targets = set(mapping.values())
    if "first_name" not in targets and "last_name" in targets and "full_name" not in targets:
        for index, target in mapping.items():
            if target == "last_name" and keys[int(index)] == "name":
                mapping[index] = "full_name"
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


def _shown(value: Any) -> str:
    """A cell as the sheet shows it (a formula without a result: its text)."""
    if isinstance(value, FormulaWithoutValue):
        return str(value)
    return _text(value)


def _key(value: Any) -> str:
    """A distinct value of a column, as the value step lists it (case and spacing aside);
    as long as a remembered value may be."""
    return _text(value).casefold()[:200]


def _past(day: date | None) -> date | None:
    if day is not None and day > timezone.localdate():
        raise CellError(_("%s lies in the future") % date_format(day, "SHORT_DATE_FORMAT"))
    return day


def _postal_code(value: Any) -> str:
    text = _text(value).replace(" ", "")
    if text.upper().startswith("D-"):
        text = text[2:]
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
    text = _text(value).lower().removeprefix("mailto:")
    if text:
        try:
            validate_email(text)
        except ValidationError as error:
            raise CellError(_("“%s” is not an e-mail address") % text) from error
    return text


def _number(value: Any) -> int | None:
    text = _text(value).replace(" ", "")
    if not text:
        return None
    if not text.isdigit() or int(text) == 0:
        raise CellError(_("membership number “%s” is not a number") % text)
    return int(text)


def _balance(value: Any) -> Decimal | None:
    """'-72,00', '72,00-', '-1.234,50 €' (also with a typographic minus), -72 -> a balance
    (negative: owed)."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        try:
            amount = Decimal(str(value)).quantize(Decimal("0.01"))
        except ArithmeticError as error:
            raise CellError(_("“%s” is not an amount of money") % _text(value)) from error
        if abs(amount) >= 10_000_000:
            raise CellError(_("“%s” is not an amount of money") % _text(value))
        return amount
    text = _text(value).replace("\u2212", "-").replace("€", "").replace("EUR", "").strip()
    negative = text.startswith("-") or text.endswith("-")
    amount = parse_amount(text.strip("-+ "))
    if amount is None:
        raise CellError(_("“%s” is not an amount of money") % _text(value))
    return -amount.value if negative else amount.value


def _iban(value: Any) -> str:
    """'de02 1203 0000 0000 2020 51' -> 'DE02120300000000202051', checked by its check
    digits (ISO 13616: the number read with the country moved to the end, mod 97, is 1)."""
    text = re.sub(r"[\s-]", "", _text(value)).upper()
    if not text:
        return ""
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", text):
        raise CellError(_("“%s” is not an IBAN") % _text(value))
    digits = "".join(str(int(c, 36)) for c in text[4:] + text[:4])
    if int(digits) % 97 != 1:
        raise CellError(_("“%s” is not an IBAN") % _text(value))
    return text


CLEANERS = {
    "iban": _iban,
    "balance": _balance,
    "membership_number": _number,
    "postal_code": _postal_code,
    "phone": _phone,
    "email": _email,
}


def _split_name(text: str) -> tuple[str, str]:
    """'Müller, Anna' or 'Anna Müller' -> ('Anna', 'Müller')."""
    if "," in text:
        last, _sep, first = text.partition(",")
        return first.strip(), last.strip()
    first, _sep, last = text.rpartition(" ")
    return first.strip(), last.strip()


def _postal_code_and_city(text: str) -> tuple[str, str]:
    match = re.fullmatch(r"(?:D-)?(\d{4,5})\s+(.+)", text)
    if not match:
        raise CellError(_("“%s” is not a postal code followed by a city") % text)
    return _postal_code(match.group(1)), match.group(2).strip()


# --- What the person importing decided ------------------------------------------------------


@dataclass
class Decisions:
    """The value step's answers: what a distinct value of a column means (by field, then by
    value), and how a date column is read (partial dates, the order of day and month)."""

    values: dict[str, dict[str, str]] = field(default_factory=dict)
    dates: dict[str, dict[str, str]] = field(default_factory=dict)
    remembered: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def of(cls, batch: ImportBatch) -> Decisions:
        choices = batch.choices or {}
        remembered: dict[str, dict[str, str]] = defaultdict(dict)
        for name, key, choice in ImportValueChoice.objects.filter(
            division=batch.division_id
        ).values_list("field", "key", "choice"):
            remembered[name][key] = choice
        return cls(
            values=choices.get("values", {}),
            dates=choices.get("dates", {}),
            remembered=dict(remembered),
        )


def vocabularies(division: Division, user: User | None) -> dict[str, Vocabulary]:
    divisions = Division.objects.subtree_of(division)
    if user is not None:
        divisions = divisions.visible_to(user, Action.REQUEST_CHANGE)
    divisions = list(divisions)
    fees = FeeVocabulary(timezone.localdate())
    amounts = FeeVocabulary(timezone.localdate())
    amounts.field = "fee_amount"
    # A state column names the states of the upload's area, or the one the area lies in
    # (a district's sheet saying "SN" on every row).
    states = [d for d in divisions if d.level == DivisionLevel.STATE]
    if division.depth > 2:
        states += Division.objects.filter(path=division.path[: 2 * Division.steplen])
    states = DivisionVocabulary(states)
    states.field = "state"
    return {
        "state": states,
        "division": DivisionVocabulary(divisions),
        "fee_class": fees,
        "fee_amount": amounts,
        "status": StatusVocabulary(),
        "end_reason": EndReasonVocabulary(),
    }


@dataclass
class Resolved:
    """A distinct value of a vocabulary column: what it means and where that came from."""

    text: str
    count: int
    match: Match
    choice: str | None
    source: str  # "yours", "remembered", "automatic", "" (open)

    def as_json(self, key: str, vocabulary: Vocabulary) -> dict[str, Any]:
        return {
            "key": key,
            "text": self.text,
            "count": self.count,
            "choice": self.choice or "",
            "label": (
                _("(empty)")
                if self.choice == EMPTY
                else vocabulary.label_of(self.choice)
                if self.choice
                else ""
            ),
            "automatic": self.match.choice or "",
            "candidates": [
                {"value": c, "label": vocabulary.label_of(c)} for c in self.match.candidates
            ],
            "source": self.source,
        }


def _resolve(
    column: list[Any], vocabulary: Vocabulary, decisions: Decisions
) -> dict[str, Resolved]:
    texts: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for value in column:
        if isinstance(value, FormulaWithoutValue):
            continue  # the row's error says so
        key = _key(value)
        if key:
            texts.setdefault(key, _text(value))
            counts[key] += 1
    yours = decisions.values.get(vocabulary.field, {})
    remembered = decisions.remembered.get(vocabulary.field, {})
    resolved = {}
    for key, text in texts.items():
        match = vocabulary.match(text)
        offered = (
            ("yours", yours.get(key)),
            ("remembered", remembered.get(key)),
            ("automatic", match.choice),
        )
        source, choice = next(
            ((s, c) for s, c in offered if c and (c == EMPTY or vocabulary.valid(c))), ("", None)
        )
        resolved[key] = Resolved(text, counts[key], match, choice, source)
    return resolved


# --- Validating a sheet ---------------------------------------------------------------------


@dataclass
class RowResult:
    row: int
    # new, changed, unchanged, error; unknown (a number the register does not know);
    # skipped (not a member row, or a former member: listed, not imported)
    status: str = "new"
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    member_id: int | None = None
    diff: dict[str, list[Any]] = field(default_factory=dict)
    # Whether an unknown number's row may be proposed as a new entry.
    proposable: bool = True

    def as_json(self) -> dict[str, Any]:
        values = {k: json_value(v) for k, v in self.values.items()}
        return {
            "row": self.row,
            "status": self.status,
            "errors": self.errors,
            "warnings": self.warnings,
            "values": values,
            "member_id": self.member_id,
            "diff": self.diff,
            "proposable": self.proposable,
        }


@dataclass
class Validation:
    results: list[RowResult]
    # What the preview shows besides the rows: the value step (distinct values by field),
    # the date questions, the columns not imported.
    findings: dict[str, Any]


def _is_skippable(row: list[Any], columns: dict[int, str]) -> str | None:
    """Why a row is not a member at all (a total, a heading), or None."""
    names = [
        _shown(row[index])
        for index, target in columns.items()
        if target in ("first_name", "last_name", "full_name") and index < len(row)
    ]
    first = next((cell for cell in row if cell is not None and cell != ""), None)
    if any(names) and not (isinstance(first, str) and FOOTER_WORDS.match(first.strip())):
        return None  # a row with a name that does not begin like a total: a member's
    filled = [_shown(cell) for cell in row if _shown(cell)]
    if not filled:
        return None
    if FOOTER_WORDS.match(filled[0]) and not any(
        name and not FOOTER_WORDS.match(name) for name in names[1:]
    ):
        return " ".join(filled)[:120]
    if not any(names) and (
        len(filled) == 1 or all(re.fullmatch(r"[\d.,\s€]+", text) for text in filled)
    ):
        return " ".join(filled)[:120]
    return None


def _date_questions(
    rows: list[list[Any]], columns: dict[int, str], decisions: Decisions
) -> dict[str, dict[str, Any]]:
    """For each date column: how many values lack the day (or month), how many could be read
    either way round, the order its values reveal, and what was decided."""
    questions = {}
    for index, target in columns.items():
        if target not in DATE_FIELDS:
            continue
        column = [row[index] for row in rows if index < len(row)]
        detected = slash_order(column)
        decided = decisions.dates.get(target, {})
        order = decided.get("order") or detected or "dmy"
        partial = ambiguous = 0
        examples: list[str] = []
        for value in column:
            if value in (None, ""):
                continue
            try:
                parsed = parse_date(value, order)
            except (DateError, CellError, TypeError):
                continue
            if parsed.partial:
                partial += 1
                if len(examples) < 3:
                    examples.append(_text(value))
            if parsed.ambiguous:
                ambiguous += 1
        questions[target] = {
            "partial": partial,
            "ambiguous": ambiguous if detected is None else 0,
            "detected": detected or "",
            "order": decided.get("order", ""),
            "fill": decided.get("partial", ""),
            "examples": examples,
        }
    return questions


def _clean_date(
    value: Any, target: str, question: dict[str, Any], result: RowResult, label: str
) -> date | None:
    if value in (None, "") or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, FormulaWithoutValue):
        raise CellError(_("formula without a saved result (open and save the file in Excel)"))
    order = question.get("order") or question.get("detected") or "dmy"
    try:
        parsed = parse_date(value, order)
    except (DateError, TypeError) as error:
        raise CellError(_("“%s” is not a date (e.g. 01.02.2019)") % _text(value)) from error
    if parsed.ambiguous and not (question.get("order") or question.get("detected")):
        raise CellError(
            _(
                "%(label)s “%(value)s”: day and month could be either way round; choose the "
                "order for this column in the value step"
            )
            % {"label": label, "value": _text(value)}
        )
    if parsed.partial:
        if question.get("fill") != "first":
            raise CellError(
                _(
                    "%(label)s “%(value)s” has no day: choose in the value step how to read "
                    "such dates"
                )
                % {"label": label, "value": _text(value)}
            )
        result.warnings.append(
            _("%(label)s “%(value)s” read as %(day)s")
            % {
                "label": label,
                "value": _text(value),
                "day": date_format(parsed.day, "SHORT_DATE_FORMAT"),
            }
        )
    day = parsed.day
    return _past(day) if target in ("date_of_birth", "joined_on", "left_on") else day


def _unmapped(
    header: list[str], rows: list[list[Any]], columns: dict[int, str]
) -> list[dict[str, Any]]:
    """Columns that hold data and are not imported: the preview names each."""
    found = []
    for index, title in enumerate(header):
        if index in columns:
            continue
        values = [_shown(row[index]) for row in rows if index < len(row) and _shown(row[index])]
        if values:
            found.append(
                {
                    "index": index,
                    "title": title or _("(no title)"),
                    "count": len(values),
                    "examples": list(dict.fromkeys(values))[:3],
                }
            )
    return found


def validate(
    *,
    rows: list[list[Any]],
    row_numbers: list[int],
    mapping: dict[str, str],
    user: User | None,
    division: Division,
    decisions: Decisions | None = None,
    header: list[str] | None = None,
    progress: Any = None,
) -> Validation:
    """Clean and check every row; classify it (see RowResult.status)."""
    decisions = decisions or Decisions()
    columns = {int(index): target for index, target in mapping.items() if target}
    targets = set(columns.values())
    if not ({"first_name", "last_name"} <= targets or "full_name" in targets):
        raise SpreadsheetError(_("Assign the columns for first name and last name."))
    labels = field_labels(switchover=True)
    skipped = {pos: why for pos, row in enumerate(rows) if (why := _is_skippable(row, columns))}
    member_rows = [row for pos, row in enumerate(rows) if pos not in skipped]
    vocab = vocabularies(division, user)
    resolved = {
        target: _resolve(
            [row[index] for row in member_rows if index < len(row)], vocab[target], decisions
        )
        for index, target in columns.items()
        if target in VOCABULARY_FIELDS
    }
    questions = _date_questions(member_rows, columns, decisions)
    results = []
    for position, (row, number) in enumerate(zip(rows, row_numbers, strict=True)):
        result = RowResult(row=number)
        results.append(result)
        if position in skipped:
            result.status = "skipped"
            result.warnings.append(_("not a member row: “%s”") % skipped[position])
            continue
        for index, target in columns.items():
            value = row[index] if index < len(row) else None
            try:
                if target in DATE_FIELDS:
                    result.values[target] = _clean_date(
                        value, target, questions[target], result, labels[target]
                    )
                elif target in VOCABULARY_FIELDS:
                    _clean_vocabulary(value, target, resolved[target], vocab[target], result)
                else:
                    _clean_plain(value, target, columns, result)
            except CellError as error:
                result.errors.append(str(error))
        _combine(result, vocab)
        for required in REQUIRED:
            if not result.values.get(required):
                result.errors.append(_("%s is missing") % labels[required])
        if progress and position % 500 == 0:
            progress(position)
    members = [r for r in results if r.status != "skipped"]
    _check_duplicates_in_file(members)
    _compare_with_register(members, user=user, division=division)
    for result in members:
        if result.errors:
            result.status = "error"
    findings = {
        "values": {
            target: [
                item.as_json(key, vocab[target])
                for key, item in sorted(found.items(), key=lambda kv: (-kv[1].count, kv[0]))
            ]
            for target, found in resolved.items()
        },
        "dates": {t: q for t, q in questions.items() if q["partial"] or q["ambiguous"]},
        "unmapped": _unmapped(header or [], rows, columns),
    }
    return Validation(results, findings)


def _clean_plain(value: Any, target: str, columns: dict[int, str], result: RowResult) -> None:
    targets = set(columns.values())
    if target == "full_name":
        first, last = _split_name(_text(value))
        result.values.setdefault("first_name", first)
        result.values.setdefault("last_name", last)
    elif target == "postal_code_city":
        text = _text(value)
        if text:
            result.values["postal_code"], result.values["city"] = _postal_code_and_city(text)
    elif target == "street":
        text = _text(value)
        # "Hauptstr. 5, 01067 Dresden" in one column, when no other column has the rest.
        whole = re.fullmatch(r"(.*?\S)\s*,\s*(?:D-)?(\d{5})\s+(\S.*)", text)
        if whole and not targets & {"postal_code", "city", "postal_code_city"}:
            text = whole.group(1)
            result.values["postal_code"], result.values["city"] = whole.group(2), whole.group(3)
        result.values["street"] = (text + " " + result.values.pop("_house", "")).strip()
    elif target == "house_number":
        house = _text(value)
        if "street" in result.values:
            result.values["street"] = f"{result.values['street']} {house}".strip()
        else:
            result.values["_house"] = house
    else:
        result.values[target] = CLEANERS.get(target, _text)(value)


def _clean_vocabulary(
    value: Any,
    target: str,
    resolved: dict[str, Resolved],
    vocabulary: Vocabulary,
    result: RowResult,
) -> None:
    key = _key(value)
    if not key:
        return
    if isinstance(value, FormulaWithoutValue):
        raise CellError(_("formula without a saved result (open and save the file in Excel)"))
    item = resolved[key]
    if item.choice is None:
        names = {"column": capfirst(str(vocabulary.label)), "value": item.text}
        if item.match.candidates:
            names["candidates"] = ", ".join(
                vocabulary.label_of(c) for c in item.match.candidates[:4]
            )
            message = _("%(column)s “%(value)s” could be %(candidates)s: choose in the value step")
        elif target in ("division", "state"):
            message = _(
                "%(column)s “%(value)s” is unknown or outside your area: choose in the value "
                "step what it means"
            )
        else:
            message = _("%(column)s “%(value)s” is unknown: choose in the value step what it means")
        raise CellError(message % names)
    if item.choice != EMPTY:
        result.values[f"_{target}"] = item.choice


def _combine(result: RowResult, vocab: dict[str, Vocabulary]) -> None:
    """The vocabulary columns together: a division within the row's state; the fee from the
    class column, its tier from the amount column; status and reason for leaving."""
    values = result.values
    house = values.pop("_house", None)
    if house and not values.get("street"):
        values["street"] = house
    state = values.pop("_state", None)
    division = values.pop("_division", None)
    if division is not None:
        found = vocab["division"].values(division)["division"]
        if state is not None:
            state_division = vocab["state"].values(state)["division"]
            if not found.path.startswith(state_division.path):
                result.errors.append(
                    _("division %(division)s does not belong to %(state)s")
                    % {"division": found.name, "state": state_division.name}
                )
        values["division"] = found
    elif state is not None:
        found = vocab["state"].values(state)["division"]
        if str(found.pk) in vocab["division"].divisions:  # else the state above the area
            values["division"] = found
    fee = values.pop("_fee_class", None)
    amount = values.pop("_fee_amount", None)
    if fee is None and amount is not None:
        fee = amount
    if fee is not None:
        values |= vocab["fee_class"].values(fee)
        if amount and values["fee_class"] == "regular" and ":" in amount:
            values |= vocab["fee_class"].values(amount)
        elif amount and amount != EMPTY and amount.partition(":")[0] != values["fee_class"]:
            result.warnings.append(
                _("the amount does not fit the fee class; the fee class is taken")
            )
    status = values.pop("_status", None)
    reason = values.pop("_end_reason", None)
    if status is not None:
        values |= vocab["status"].values(status)
    if reason is not None:
        values["end_reason"] = reason
        values.setdefault("status", "ended")
    if values.get("left_on") and not values.get("status"):
        values["status"] = "ended"


def _check_duplicates_in_file(results: list[RowResult]) -> None:
    """The same number, or the same name and date of birth, twice: both rows are errors.
    The same e-mail address twice is a family sharing one: a warning (with the same name it
    is a duplicate, found by the name)."""

    def key_name(r: RowResult) -> tuple | None:
        born = r.values.get("date_of_birth")
        if not (born and r.values.get("last_name")):
            return None
        return (r.values["last_name"].lower(), r.values.get("first_name", "").lower(), born)

    def key_email_name(r: RowResult) -> tuple | None:
        email = r.values.get("email")
        if not email:
            return None
        return (
            email,
            r.values.get("first_name", "").lower(),
            r.values.get("last_name", "").lower(),
        )

    checks = (
        (_("the same membership number"), lambda r: r.values.get("membership_number"), True),
        (_("the same name and date of birth"), key_name, True),
        (_("the same name and e-mail address"), key_email_name, True),
        (_("the same e-mail address"), lambda r: r.values.get("email") or None, False),
    )
    for label, key, is_error in checks:
        rows_of: dict[Any, list[RowResult]] = defaultdict(list)
        for result in results:
            if (k := key(result)) is not None:
                rows_of[k].append(result)
        for group in rows_of.values():
            if len(group) < 2:
                continue
            for result in group:
                others = ", ".join(str(r.row) for r in group if r is not result)
                text = _("%(what)s as row %(rows)s") % {"what": label, "rows": others}
                if is_error:
                    result.errors.append(text)
                elif not any(
                    e.startswith(str(_("the same name and e-mail address"))) for e in result.errors
                ):
                    result.warnings.append(text)


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
    # The federal office (no user: it sees everything) learns which of the others belong to
    # a member outside the upload's division; a board's are checked on approval.
    elsewhere: set[int] = set()
    if user is None:
        others = [n for n in numbers if n not in known]
        for chunk in _chunks(others):
            elsewhere |= set(
                Member.objects.filter(membership_number__in=chunk).values_list(
                    "membership_number", flat=True
                )
            )
    newcomers = [
        r
        for r in results
        if not r.values.get("membership_number") or r.values["membership_number"] not in known
    ]
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
    addresses: dict[str, set[str]] = defaultdict(set)
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
        for email, first in (
            scope.current().filter(email__in=chunk).values_list("email", "first_name")
        ):
            addresses[email.lower()].add(first.casefold())
        for proposed in pending.filter(proposed__email__in=chunk).values_list(
            "proposed", flat=True
        ):
            addresses[proposed["email"].lower()].add(proposed.get("first_name", "").casefold())
    for result in results:
        values = result.values
        number = values.get("membership_number")
        if number and number in known:
            _diff(result, known[number])
            continue
        duplicates = []
        if (values.get("last_name"), values.get("first_name"), values.get("date_of_birth")) in (
            people
        ):
            duplicates.append(
                _("a member with the same name and date of birth is already in the register")
            )
        email = values.get("email")
        if email and email in addresses:
            if values.get("first_name", "").casefold() in addresses[email]:
                duplicates.append(
                    _("a member with this name and e-mail address is already in the register")
                )
            else:
                result.warnings.append(
                    _("a member with another name uses this e-mail address (a family?)")
                )
        if number and number in elsewhere:
            result.errors.append(
                _(
                    "membership number %s belongs to a member of another division: import it "
                    "there, or transfer the member first"
                )
                % number
            )
            continue
        if number:
            # Not in (your area of) the register: listed apart, proposed as an entry if wanted.
            result.status = "unknown"
            result.warnings.append(_("membership number %s is not in the register") % number)
            if duplicates:
                result.proposable = False
                result.warnings += duplicates
            continue
        if values.get("status") == "ended":
            result.status = "skipped"
            result.warnings.append(_("a former member (ended in the sheet): not entered"))
            continue
        result.errors += duplicates


def _diff(result: RowResult, member: Member) -> None:
    result.member_id = member.pk
    division = result.values.get("division")
    if division is not None and division.pk != member.division_id:
        result.errors.append(
            _("the division differs from the register: request a transfer instead")
        )
    if result.values.get("status") == "ended" and member.status != "ended":
        result.warnings.append(
            _("the sheet says this membership ended: request the exit on the member page")
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
        validation = validate(
            rows=parsed.rows,
            row_numbers=parsed.row_numbers,
            mapping=batch.mapping,
            user=user,
            division=batch.division,
            decisions=Decisions.of(batch),
            header=parsed.header,
            progress=_progress(batch.pk, batch.total_rows),
        )
    except Exception as error:
        if isinstance(error, OperationalError | InterfaceError):
            raise  # the database went away: the task checks the file again (DATABASE_RETRY)
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
        batch.findings = {}
        batch.save()
        return batch
    results = validation.results
    counts = Counter(r.status for r in results)
    batch.findings = validation.findings | {
        "unknown": counts["unknown"],
        "skipped": counts["skipped"],
        "warnings": sum(1 for r in results if r.warnings and r.status != "skipped"),
    }
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
            cleaned[name] = date.fromisoformat(value) if name in DATE_FIELDS else value
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
    dispatch.enqueue(tasks.check_import, batch.pk, mapping)


def decide_values(
    *,
    batch: ImportBatch,
    by: User,
    values: dict[str, dict[str, str]],
    dates: dict[str, dict[str, str]],
) -> None:
    """The value step: what each listed value means (remembered for the division's next
    upload) and how each date column is read; the sheet is checked again with them."""
    _uploader_only(batch, by)
    with transaction.atomic():
        for name, chosen in values.items():
            for key, choice in chosen.items():
                ImportValueChoice.objects.update_or_create(
                    division=batch.division,
                    field=name,
                    key=key,
                    defaults={"choice": choice, "decided_by": by},
                )
        choices = dict(batch.choices or {})
        choices["values"] = {
            name: {**choices.get("values", {}).get(name, {}), **chosen}
            for name, chosen in (choices.get("values", {}) | values).items()
        }
        choices["dates"] = {**choices.get("dates", {}), **dates}
        ImportBatch.objects.filter(pk=batch.pk).update(choices=choices)
        services.record_audit(
            actor=by,
            action="import.values_decided",
            obj=batch,
            division=batch.division,
            summary=f"{batch.filename}: values decided",
            data={"values": values, "dates": dates},
        )
        start_check(batch=batch, by=by)


def choices_from_file(path: Any, *, division: Division, user: User | None) -> dict[str, Any]:
    """A value file for the command line (the value step's answers as JSON)."""
    import json

    try:
        given = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SpreadsheetError(_("The value file cannot be read: %s") % error) from error
    return choices_from_json(given, division=division, user=user)


def choices_from_json(given: Any, *, division: Division, user: User | None) -> dict[str, Any]:
    """The value step's answers given as JSON ({"division": {"KV Dresden": "SN-DD"},
    "dates": {"joined_on": {"partial": "first"}}}), checked: a value that means nothing
    known is refused with its name."""
    if not isinstance(given, dict):
        raise SpreadsheetError(_("The value file must hold a JSON object."))
    global_user = None if user is None or access.has_global_access(user) else user
    vocab = vocabularies(division, global_user)
    values: dict[str, dict[str, str]] = {}
    for name, chosen in given.items():
        if name == "dates":
            continue
        if name not in vocab or not isinstance(chosen, dict):
            raise SpreadsheetError(_("The value file names an unknown column: %s") % name)
        for text, meaning in chosen.items():
            meaning = str(meaning)
            if meaning != EMPTY and name in ("division", "state"):
                meaning = vocab[name].find(meaning) or ""
            if not meaning or not (meaning == EMPTY or vocab[name].valid(meaning)):
                raise SpreadsheetError(
                    _("The value file says “%(text)s” means “%(meaning)s”, which is unknown.")
                    % {"text": text, "meaning": chosen[text]}
                )
            values.setdefault(name, {})[_key(text)] = meaning
    dates = given.get("dates") or {}
    if not isinstance(dates, dict) or any(
        name not in DATE_FIELDS
        or not isinstance(d, dict)
        or d.get("order", "dmy") not in ("dmy", "mdy")
        or d.get("partial", "first") not in ("first", "refuse")
        for name, d in dates.items()
    ):
        raise SpreadsheetError(_("The value file's dates are not understood."))
    return {"values": values, "dates": dates}


def forget_value(*, choice: ImportValueChoice, by: User) -> None:
    """Drop a remembered value correction (the next upload matches that value anew)."""
    services.record_audit(
        actor=by,
        action="import.value_forgotten",
        obj=choice.division,
        division=choice.division,
        summary=f"{choice.field}: {choice.key} → {choice.choice} forgotten",
    )
    choice.delete()


def start_apply(
    *, batch: ImportBatch, by: User, checked_at: str, propose_unknown: bool = False
) -> bool:
    """Claim the checked batch for applying; False if it is not (or no longer) applicable,
    or if it was checked again since the preview `checked_at` (its finish time) was shown.
    With `propose_unknown` the rows whose number the register does not know are entered
    (the federal office) or proposed as entries (a board) too."""
    from members import tasks

    _uploader_only(batch, by)
    if batch.finished_at is None or checked_at != batch.finished_at.isoformat():
        return False
    choices = dict(batch.choices or {}) | {"propose_unknown": propose_unknown}
    claimed = (
        ImportBatch.objects.filter(
            pk=batch.pk,
            status=ImportBatch.Status.CHECKED,
            errors=0,
            finished_at=batch.finished_at,
        )
        .exclude(report=[])
        .update(status=ImportBatch.Status.APPLYING, choices=choices)
    )
    if claimed:
        cache.set(PROGRESS_KEY.format(batch.pk), (0, batch.total_rows), 3600)
        dispatch.enqueue(tasks.apply_import, batch.pk)
    return bool(claimed)


def run_apply(*, batch_id: int) -> None:
    """The task's body: apply, or put the batch back with the reason if anything fails."""
    try:
        apply_batch(batch_id=batch_id)
    except (OperationalError, InterfaceError):
        # The database went away: the transaction was rolled back and the task runs again;
        # the batch stays "applying" meanwhile (the board's page keeps waiting).
        raise
    except Exception as error:
        ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.APPLYING).update(
            status=ImportBatch.Status.CHECKED, error=_("Nothing was applied: %s") % error
        )
        if not isinstance(error, ValidationError):
            raise


def give_up_apply(*, batch_id: int) -> None:
    """The database stayed away through every retry: the board may submit again."""
    connection.close()
    ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.APPLYING).update(
        status=ImportBatch.Status.CHECKED,
        error=_("The database could not be reached; nothing was applied. Please submit again."),
    )


@transaction.atomic
def apply_batch(*, batch_id: int) -> ImportBatch:
    """All or nothing: change requests for a state board, the register for the federal office."""
    batch = (
        # The batch's row only: locking the division's and the uploader's rows too would hold
        # every insert that refers to them (the board's next page view) until the apply ends.
        ImportBatch.objects.select_for_update(of=("self",))
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
    propose = bool((batch.choices or {}).get("propose_unknown"))
    highest = 0
    if direct and propose:
        # Numbers brought in from the sheet: the sequence continues after the highest, before
        # the new rows take theirs.
        brought = [
            row["values"]["membership_number"]
            for row in batch.report
            if row["status"] == "unknown" and row.get("proposable", True)
        ]
        NumberSequence.objects.filter(
            name="membership", last_value__lt=max(brought, default=0)
        ).update(last_value=max(brought, default=0))
    for position, row in enumerate(batch.report):
        values = _member_values(row["values"])
        number = row["values"].get("membership_number")
        unknown = row["status"] == "unknown" and propose and row.get("proposable", True)
        if row["status"] == "new" or unknown:
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
                    membership_number=number if unknown else None,
                )
                highest = max(highest, number or 0) if unknown else highest
            else:
                request = services.submit_change_request(
                    by=by,
                    kind=RequestKind.ENTRY,
                    division=target,
                    values=values,
                    effective_on=min(joined, today),
                    note=f"Import {batch.filename}, Zeile {row['row']}"
                    + (f", Nummer laut Liste {number}" if unknown else ""),
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
    # Numbers brought in from the sheet: the sequence continues after the highest.
    NumberSequence.objects.filter(name="membership", last_value__lt=highest).update(
        last_value=highest
    )
    batch.status = ImportBatch.Status.APPLIED if direct else ImportBatch.Status.SUBMITTED
    batch.finished_at = timezone.now()
    batch.content = b""  # the sheet has served its purpose; keep only its hash and counts
    batch.cells = {}
    batch.error = ""  # a failed try before this one said why; it no longer applies
    batch.save(update_fields=["status", "finished_at", "content", "cells", "error"])
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
