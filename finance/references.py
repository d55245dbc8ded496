"""Payment references: `MB<year> <membership number>` as the finance order prescribes, and
the membership numbers found in what banks and people actually write.

Seen in real statements: "MB2026 123", "mb 2026/123", "MB-2026-000123", "MB2026123" (the
year's four digits, then the number), "Mitgl.-Nr. 123", "Mitgliedsnummer: 123", "MNr 123", "Beitrag 2026
Nr. 123", and a bare number of five to eight digits (the old register's numbers).
"""

from __future__ import annotations

import re
from datetime import date

from members.models.register import payment_reference

# MB, the year, then the number, separated by spaces, slashes, hyphens, dots or colons.
_MB = re.compile(r"\bMB\s*[-/.:]?\s*(?:19|20)\d\d\s*[-/.:\s]?\s*0*(\d{1,9})(?!\d)", re.IGNORECASE)
# A label for the membership number, then the number.
_LABELLED = re.compile(
    r"\b(?:Mitgl(?:ieds)?\.?\s*-?\s*N(?:umme)?r\.?|Mitgliedsnummer|Mitglieds-Nr\.?|M-?Nr\.?"
    r"|Mitglied(?:\s+Nr\.?)?)\s*[:.]?\s*0*(\d{1,9})(?!\d)",
    re.IGNORECASE,
)
# A bare number the length the old register used.
_BARE = re.compile(r"(?<![\d,/-])(?<!\d\.)(\d{5,8})(?![\d.,]\d)")


def reference_for(membership_number: int, year: int | date) -> str:
    """The transfer reference a member is asked to use for a year's dues."""
    return payment_reference(membership_number, year.year if isinstance(year, date) else year)


def numbers_in(text: str) -> list[int]:
    """The membership numbers a reference names, in order, each once. Prescribed and
    labelled spellings come first; bare long numbers count only when there are none."""
    found: list[int] = []
    for pattern in (_MB, _LABELLED):
        for match in pattern.finditer(text):
            number = int(match.group(1))
            if number and number not in found:
                found.append(number)
    if not found:
        for match in _BARE.finditer(text):
            number = int(match.group(1))
            if number not in found:
                found.append(number)
    return found
