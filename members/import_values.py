"""What people type into a member sheet, read into register values.

Offices write divisions as "KV Dresden", "KV CHEMNITZ" or only "Leipzig"; the fee column
holds "72 €", "120,- EUR" or "ermäßigt"; dates come with or without the day, with a time
part, as text or as Excel serials. This module reads single cells (`parse_date`,
`parse_amount`) and matches the values of a column with a fixed vocabulary (division, fee,
status, end reason) against what the register knows. A matcher never guesses between two
candidates: a value that fits none or several is left for the person importing to decide,
once per distinct value (members.imports: the value step).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from members.models import Division, DivisionLevel, EndReason, FeeClass, MemberStatus
from members.policy import fee_policy
from members.spreadsheets import normalise_header

# --- Dates -----------------------------------------------------------------------------------

MONTHS = {
    "jan": 1,
    "januar": 1,
    "january": 1,
    "jaen": 1,
    "jaenner": 1,
    "feb": 2,
    "februar": 2,
    "february": 2,
    "mar": 3,
    "maer": 3,
    "maerz": 3,
    "mrz": 3,
    "march": 3,
    "apr": 4,
    "april": 4,
    "mai": 5,
    "may": 5,
    "jun": 6,
    "juni": 6,
    "june": 6,
    "jul": 7,
    "juli": 7,
    "july": 7,
    "aug": 8,
    "august": 8,
    "sep": 9,
    "sept": 9,
    "september": 9,
    "okt": 10,
    "oct": 10,
    "oktober": 10,
    "october": 10,
    "nov": 11,
    "november": 11,
    "dez": 12,
    "dec": 12,
    "dezember": 12,
    "december": 12,
}
MONTH_WORD = "(" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
TIME_PART = r"(?:[ t,]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*uhr)?)?"
# An Excel serial (1900 date system) between 1910 and 2118.
SERIALS = (3654, 80000)


class DateError(ValueError):
    pass


@dataclass(frozen=True)
class ParsedDate:
    """A date as written: `partial` says what was missing ("" none, "day", "month"), and
    `ambiguous` that day and month could be swapped (01/02/2019: which order was meant?)."""

    day: date
    partial: str = ""
    ambiguous: bool = False


def _year(text: str) -> int:
    year = int(text)
    if len(text) <= 2:
        this_year = timezone.localdate().year % 100
        year += 2000 if year <= this_year else 1900
    return year


def _make(year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError as error:
        raise DateError(str(error)) from error


def parse_date(value: Any, order: str = "dmy") -> ParsedDate:
    """A cell's date. `order` is how the column writes day and month with slashes or
    hyphens ("dmy" or "mdy"); dotted dates are always day first, as in German."""
    if isinstance(value, datetime):
        return ParsedDate(value.date())
    if isinstance(value, date):
        return ParsedDate(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        if SERIALS[0] <= value < SERIALS[1]:
            return ParsedDate(date(1899, 12, 30) + timedelta(days=int(value)))
        if float(value).is_integer() and 1900 <= value <= 2100:
            return ParsedDate(date(int(value), 1, 1), partial="month")
        raise DateError(str(value))
    text = " ".join(str(value).split()).lower().rstrip(".")
    text = text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")
    if not text:
        raise DateError(text)
    if re.fullmatch(r"\d+([.,]\d+)?", text) and float(text.replace(",", ".")) >= SERIALS[0]:
        return parse_date(float(text.replace(",", ".")), order)  # a serial saved as text
    text = re.sub(TIME_PART + "$", "", text)
    if match := re.fullmatch(r"(\d{1,2})\.\s?(\d{1,2})\.\s?(\d{4}|\d{2})", text):
        day, month, year = match.groups()
        return ParsedDate(_make(_year(year), int(month), int(day)))
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text):
        year, month, day = (int(part) for part in match.groups())
        return ParsedDate(_make(year, month, day))
    if match := re.fullmatch(r"(\d{4})/(\d{1,2})/(\d{1,2})", text):
        year, month, day = (int(part) for part in match.groups())
        return ParsedDate(_make(year, month, day))
    if match := re.fullmatch(r"(\d{1,2})[/-](\d{1,2})[/-](\d{4}|\d{2})", text):
        first, second, year_text = match.groups()
        a, b, year = int(first), int(second), _year(year_text)
        if a > 12 or b > 12:
            day, month = (a, b) if a > 12 else (b, a)
            return ParsedDate(_make(year, month, day))
        day, month = (a, b) if order == "dmy" else (b, a)
        return ParsedDate(_make(year, month, day), ambiguous=a != b)
    if match := re.fullmatch(r"(\d{1,2})\.?\s*" + MONTH_WORD + r"\s*(\d{4}|\d{2})", text):
        day, month, year = match.groups()
        return ParsedDate(_make(_year(year), MONTHS[month], int(day)))
    if match := re.fullmatch(r"(\d{1,2})\s*[./-]\s*(\d{4})", text):
        month, year = match.groups()
        return ParsedDate(_make(int(year), int(month), 1), partial="day")
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        year, month = match.groups()
        return ParsedDate(_make(int(year), int(month), 1), partial="day")
    if match := re.fullmatch(MONTH_WORD + r"\s*(\d{4}|\d{2})", text):
        month, year = match.groups()
        return ParsedDate(_make(_year(year), MONTHS[month], 1), partial="day")
    if re.fullmatch(r"(19|20)\d\d", text):
        return ParsedDate(date(int(text), 1, 1), partial="month")
    raise DateError(text)


def slash_order(values: Iterable[Any]) -> str | None:
    """How a column writes slashed dates, if its values say: "dmy" when one has a first
    part above 12, "mdy" when one has a second part above 12, None when no value tells."""
    orders = set()
    for value in values:
        if not isinstance(value, str):
            continue
        match = re.fullmatch(r"\s*(\d{1,2})[/-](\d{1,2})[/-](\d{2}|\d{4})\b.*", value)
        if match:
            a, b = int(match.group(1)), int(match.group(2))
            if a > 12:
                orders.add("dmy")
            elif b > 12:
                orders.add("mdy")
    return orders.pop() if len(orders) == 1 else None


# --- Money -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    value: Decimal
    monthly: bool = False  # the cell said so ("6 €/Monat", "mtl.")


def parse_amount(value: Any) -> Amount | None:
    """'72 €', '120,- EUR', '12,00', '1.200,00', 'EUR 48', '6 €/Monat', 120 -> an amount;
    None when the cell holds no number (a word such as "ermäßigt")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return Amount(Decimal(str(value)).quantize(Decimal("0.01")))
    text = " ".join(str(value or "").split()).lower()
    monthly = bool(re.search(r"(/|pro |je |im )\s*(monat|mon|m)\b|\bmtl\b|monatlich", text))
    text = re.sub(
        r"(/|pro |je |im )\s*(jahr|monat|mon|j|m|a)\b\.?|\b(mtl|jaehrl|jährl)\b\.?", "", text
    )
    text = re.sub(r"monatlich|jährlich|jaehrlich", "", text)
    text = re.sub(r"€|eur(o)?|\s", "", text)
    text = re.sub(r"[,.]-+$", "", text)
    if not re.fullmatch(r"\d{1,3}(\.\d{3})*(,\d{1,2})?|\d+(,\d{1,2})?|\d+\.\d{1,2}", text):
        return None
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    elif re.fullmatch(r"\d{1,3}(\.\d{3})+", text):
        text = text.replace(".", "")
    try:
        return Amount(Decimal(text).quantize(Decimal("0.01")), monthly)
    except InvalidOperation:
        return None


# --- Vocabularies: matching a column's distinct values ----------------------------------------


@dataclass
class Match:
    """What a distinct value means: `choice` (a value of the vocabulary) when it is clear,
    else None with the `candidates` it could be (several: ambiguous; none: unknown)."""

    choice: str | None
    candidates: list[str] = field(default_factory=list)


class Vocabulary:
    field: str
    label: Any

    def match(self, raw: Any) -> Match:
        raise NotImplementedError

    def choices(self) -> list[tuple[str, str]]:
        """Every choice a person may pick, with its label."""
        raise NotImplementedError

    def label_of(self, choice: str) -> str:
        return dict(self.choices()).get(choice, choice)

    def values(self, choice: str) -> dict[str, Any]:
        """The register fields a choice sets."""
        raise NotImplementedError

    def valid(self, choice: str) -> bool:
        return choice in dict(self.choices())


# Words offices put before a division's place name, by kind (the full word and its
# abbreviations), and the level each kind is at.
DIVISION_KINDS = {
    "landesverband": ({"landesverband", "lv"}, DivisionLevel.STATE),
    "kreisverband": ({"kreisverband", "kv", "kreis"}, DivisionLevel.DISTRICT),
    "bezirksverband": ({"bezirksverband", "bv"}, DivisionLevel.DISTRICT),
    "stadtverband": ({"stadtverband", "sv"}, DivisionLevel.DISTRICT),
    "regionalverband": ({"regionalverband", "rv"}, DivisionLevel.DISTRICT),
    "ortsverband": ({"ortsverband", "ov"}, DivisionLevel.LOCAL),
    "ortsgruppe": ({"ortsgruppe", "og"}, DivisionLevel.LOCAL),
    "stadtteilgruppe": ({"stadtteilgruppe"}, DivisionLevel.LOCAL),
    "basisgruppe": ({"basisgruppe"}, DivisionLevel.LOCAL),
}
KIND_OF_WORD = {word: kind for kind, (words, _level) in DIVISION_KINDS.items() for word in words}


def _words(text: Any) -> list[str]:
    # "Kreis-verband" and "Kreis verband" are one word; a hyphen inside a place name, too.
    value = re.sub(r"(?<=[^\W\d_])-\s*(?=[^\W\d_])", "", str(text or ""))
    return [word for part in re.split(r"[^\w-]+", value) if (word := normalise_header(part))]


def place_and_kind(text: Any) -> tuple[str, str | None]:
    """'KV Dresden' -> ('dresden', 'kreisverband'); 'Kreis verband Leipzig' -> ('leipzig',
    'kreisverband'); 'Leipzig' -> ('leipzig', None)."""
    words = _words(text)
    kind = None
    if len(words) > 2 and words[0] + words[1] in KIND_OF_WORD:
        kind, words = KIND_OF_WORD[words[0] + words[1]], words[2:]
    elif len(words) > 1 and words[0] in KIND_OF_WORD:
        kind, words = KIND_OF_WORD[words[0]], words[1:]
    return "".join(words), kind


class DivisionVocabulary(Vocabulary):
    """The divisions of the upload's subtree, by code, by name, and by place name with or
    without the word for the level, in any case and spacing."""

    field = "division"
    label = gettext_lazy("division")

    def __init__(self, divisions: Iterable[Division]) -> None:
        self.divisions = {str(d.pk): d for d in divisions}
        self.exact: dict[str, set[str]] = {}
        self.places: dict[str, set[str]] = {}
        self.kinds: dict[str, str | None] = {}
        for pk, division in self.divisions.items():
            for key in (normalise_header(division.code), normalise_header(division.name)):
                self.exact.setdefault(key, set()).add(pk)
            place, kind = place_and_kind(division.name)
            self.kinds[pk] = kind
            if place:
                self.places.setdefault(place, set()).add(pk)

    def match(self, raw: Any) -> Match:
        """By code or whole name; else by place name, narrowed by the kind of division the
        value names (KV: a Kreisverband), then by its level; never a guess between two."""
        exact = self.exact.get(normalise_header(raw), set())
        if len(exact) == 1:
            return Match(next(iter(exact)))
        place, kind = place_and_kind(raw)
        found = self.places.get(place, set()) | exact
        if kind is not None:
            level = DIVISION_KINDS[kind][1]
            for narrowed in (
                {pk for pk in found if self.kinds[pk] == kind},
                {pk for pk in found if self.divisions[pk].level == level},
            ):
                if len(narrowed) == 1:
                    return Match(next(iter(narrowed)))
                if narrowed:
                    found = narrowed
                    break
            else:  # "OV Leipzig" where only a Kreisverband Leipzig exists: asked, not taken
                return Match(None, sorted(found, key=lambda pk: self.divisions[pk].path))
        if len(found) == 1:
            return Match(next(iter(found)))
        return Match(None, sorted(found, key=lambda pk: self.divisions[pk].path))

    def choices(self) -> list[tuple[str, str]]:
        ordered = sorted(self.divisions.values(), key=lambda d: d.path)
        return [(str(d.pk), f"{d.name} ({d.code})") for d in ordered]

    def find(self, typed: str) -> str | None:
        """A division typed into the value step: its code, its name, or "Name (CODE)"."""
        typed = typed.strip()
        if typed in self.divisions:
            return typed
        code = re.search(r"\(([^()]+)\)\s*$", typed)
        if code:
            typed = code.group(1)
        exact = self.exact.get(normalise_header(typed), set())
        return next(iter(exact)) if len(exact) == 1 else None

    def values(self, choice: str) -> dict[str, Any]:
        return {"division": self.divisions[choice]}

    def valid(self, choice: str) -> bool:
        return choice in self.divisions


FEE_WORDS = {
    FeeClass.REGULAR: {"regulaer", "regular", "normal", "voll", "vollzahler", "standard", "r"},
    FeeClass.REDUCED: {"ermaessigt", "reduziert", "reduced", "ermaessigung", "erm", "e"},
    FeeClass.MINOR: {"minderjaehrig", "jugendlich", "unter18", "minor", "jugend", "schueler"},
    FeeClass.EXEMPT: {"befreit", "beitragsfrei", "exempt", "frei", "keiner", "keinbeitrag"},
}


class FeeVocabulary(Vocabulary):
    """Fee class and tier, from a word ("ermäßigt") or an amount ("72 €", "6 €/Monat"),
    through the fee rules valid on the day of the import: an amount is a regular tier, the
    regular amount, or the amount of one other class; a monthly amount is read times twelve."""

    field = "fee_class"
    label = gettext_lazy("fee class")

    def __init__(self, on: date) -> None:
        policy = fee_policy()
        self.tiers = policy.tiers(on)
        self.amounts = policy.amounts(on)

    def _by_amount(self, amount: Decimal) -> list[str]:
        # The regular amount is the regular class as it is (no tier chosen), even where the
        # tiers list it too: the dues are the same, and a member's record does not change.
        if self.amounts.get(FeeClass.REGULAR) == amount:
            found = [str(FeeClass.REGULAR)]
        else:
            found = [f"{FeeClass.REGULAR}:{tier:.2f}" for tier in self.tiers if tier == amount]
        found += [
            str(fee_class)
            for fee_class, yearly in self.amounts.items()
            if fee_class != FeeClass.REGULAR and yearly == amount
        ]
        if amount == 0 and str(FeeClass.EXEMPT) not in found:
            found.append(str(FeeClass.EXEMPT))
        return found

    def match(self, raw: Any) -> Match:
        word = normalise_header(raw)
        for fee_class, words in FEE_WORDS.items():
            if word in words:
                return Match(str(fee_class))
        amount = parse_amount(raw)
        if amount is None:
            return Match(None)
        found = self._by_amount(amount.value * 12 if amount.monthly else amount.value)
        if not found and not amount.monthly:
            # Perhaps a monthly amount written bare: offered, never taken without asking.
            return Match(None, self._by_amount(amount.value * 12))
        return Match(found[0]) if len(found) == 1 else Match(None, found)

    def choices(self) -> list[tuple[str, str]]:
        labels = dict(FeeClass.choices)
        result = []
        for fee_class, label in labels.items():
            if fee_class == FeeClass.REGULAR and self.tiers:
                result += [
                    (
                        f"{fee_class}:{tier:.2f}",
                        _("%(class)s, %(tier)s € a year") % {"class": label, "tier": f"{tier:.0f}"},
                    )
                    for tier in self.tiers
                ]
            result.append((str(fee_class), str(label)))
        return result

    def values(self, choice: str) -> dict[str, Any]:
        fee_class, _sep, tier = choice.partition(":")
        values: dict[str, Any] = {"fee_class": fee_class}
        if tier:
            values["dues_tier"] = Decimal(tier)
        return values


# Status words of the old systems, and what they mean here.
STATUS_WORDS = {
    "active": {"aktiv", "active", "mitglied", "ja", "a", "beitragszahlend"},
    "pending": {"neu", "neuaufnahme", "pending", "anwaerter", "vorlaeufig", "schwebend"},
    "ended": {"beendet", "ended", "ehemalig", "ehemaliges", "inaktiv", "nein"},
    f"ended:{EndReason.EXIT}": {
        "ausgetreten",
        "austritt",
        "gekuendigt",
        "kuendigung",
        "exit",
        "left",
    },
    f"ended:{EndReason.DEATH}": {"verstorben", "tot", "gestorben", "verst", "deceased", "death"},
    f"ended:{EndReason.STRUCK_OFF}": {"gestrichen", "streichung", "struckoff"},
    f"ended:{EndReason.EXPULSION}": {"ausgeschlossen", "ausschluss", "expelled", "expulsion"},
    f"ended:{EndReason.INELIGIBLE}": {"nichtmehrberechtigt", "ineligible"},
}


class StatusVocabulary(Vocabulary):
    field = "status"
    label = gettext_lazy("status")

    def match(self, raw: Any) -> Match:
        word = normalise_header(raw)
        for choice, words in STATUS_WORDS.items():
            if word in words:
                return Match(choice)
        return Match(None)

    def choices(self) -> list[tuple[str, str]]:
        reasons = dict(EndReason.choices)
        return [
            ("active", str(MemberStatus.ACTIVE.label)),
            ("pending", str(MemberStatus.PENDING.label)),
            ("ended", _("ended (reason not given)")),
        ] + [(f"ended:{reason}", _("ended: %s") % label) for reason, label in reasons.items()]

    def values(self, choice: str) -> dict[str, Any]:
        status, _sep, reason = choice.partition(":")
        values: dict[str, Any] = {"status": status}
        if reason:
            values["end_reason"] = reason
        return values


class EndReasonVocabulary(Vocabulary):
    field = "end_reason"
    label = gettext_lazy("reason for leaving")

    def match(self, raw: Any) -> Match:
        found = StatusVocabulary().match(raw)
        if found.choice and found.choice.startswith("ended:"):
            return Match(found.choice.partition(":")[2])
        return Match(None)

    def choices(self) -> list[tuple[str, str]]:
        return [(reason, str(label)) for reason, label in EndReason.choices]

    def values(self, choice: str) -> dict[str, Any]:
        return {"end_reason": choice}
