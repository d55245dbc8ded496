"""A corpus of member sheets as offices keep them, each with what the import must make of it.

Thirteen sheets from different offices with different habits: titles above the header, merged
and hidden cells, house numbers in their own column, postal code and city in one, whole names
in one, amounts instead of fee classes, divisions written "KV Dresden" or only "Leipzig",
dates with and without the day, either way round, as text or serials, footers, families
sharing an address, numbers the register does not know, planted errors; .xlsx, .ods, and CSV
in Windows-1252 and UTF-8 with a byte order mark, with semicolons and commas.

`python -m tests.members.corpus DIR` writes the files to DIR, to try them by hand.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook

from tests.members.sheets import ods_bytes


@dataclass
class Register:
    """What the corpus meets in the register (tests/members/test_corpus.py builds it)."""

    erika: int  # Erika Beispiel, Kreisverband Leipzig, Alte Straße 9
    otto: int  # Otto Normal, Kreisverband Dresden
    karla: int  # Karla Marx, Kreisverband Chemnitz, Brückenstr. 8
    paul_email: str  # Paul Fuchs's address, in the register


@dataclass
class Case:
    name: str
    filename: str
    build: Callable[[Register], bytes]
    # The counts after the value step (before it, `before_errors` rows wait for a decision).
    after: dict[str, int]
    before_errors: int = 0
    decisions: dict[str, Any] | None = None
    federal: bool = False
    values: dict[int, dict[str, Any]] = field(default_factory=dict)  # row -> some values
    errors: dict[int, str] = field(default_factory=dict)  # row -> part of its error
    warnings: dict[int, str] = field(default_factory=dict)  # row -> part of a warning
    unmapped: list[str] = field(default_factory=list)  # columns named as not imported


def xlsx(
    rows: list[list[Any]],
    *,
    title: str | None = None,
    merges: list[str] = (),  # type: ignore[assignment]
    hidden: list[str] = (),  # type: ignore[assignment]
) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    if title:
        sheet.append([title])
        sheet.merge_cells("A1:F1")
        sheet.append([])
    for row in rows:
        sheet.append(row)
    for cells in merges:
        sheet.merge_cells(cells)
    for column in hidden:
        sheet.column_dimensions[column].hidden = True
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv(lines: list[str], *, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def _kv_dresden(reg: Register) -> bytes:
    return xlsx(
        [
            [
                "Lfd. Nr.",
                "Name",
                "Vorname",
                "Str. / Hausnr.",
                "PLZ",
                "Ort",
                "Geb.",
                "Eintritt am",
                "KV",
                "Beitrag",
                "Bemerkung",
            ],
            [
                1,
                "Weiß",
                "Änne",
                "Am Markt 2",
                "01067",
                "Dresden",
                datetime(1979, 2, 1),
                datetime(2021, 3, 15),
                "KV Dresden",
                "72 €",
                "Kassenwart",
            ],
            [
                2,
                "Schulze",
                "Bernd",
                "Bautzner Str. 5",
                1099,
                "Dresden",
                "01.02.1980",
                "15.3.21",
                " KV Dresden ",
                "120,- EUR",
                None,
            ],
            [
                3,
                "Krause",
                "Clara",
                "Louisenstr. 10",
                "01099",
                "Dresden",
                "1.2.80",
                43500,
                "KV DRESDEN",
                "ermäßigt",
                None,
            ],
            [
                4,
                "Lehmann",
                "Dieter",
                "Alaunstr. 3",
                "01099",
                "Dresden",
                "12.12.1965",
                "01.01.2010",
                "Dresden",
                120,
                "zahlt bar",
            ],
            [
                5,
                "Vogel",
                "Eva",
                "Görlitzer Str. 1",
                "01099",
                "Dresden",
                "05.05.2001",
                "2020-06-01",
                "Kreis-verband Dresden",
                "6 € mtl.",
                None,
            ],
            [None, "Summe: 5 Mitglieder", None, None, None, None, None, None, None, None, None],
        ],
        title="Mitgliederliste KV Dresden – Stand 03/2019",
    )


def _kv_chemnitz(reg: Register) -> bytes:
    return csv(
        [
            "Mitgl.-Nr.;Nachname;Vorname;Straße;Hausnr.;PLZ;Wohnort;E-Mail;Geburtsdatum;"
            "Mitglied seit;Kreisverband;Beitragsklasse",
            f"{reg.karla};Marx;Karla;Brückenstr.;10;09111;Chemnitz;karla@example.org;"
            "01.05.1970;03/2015;KV CHEMNITZ;regulär",
            ";Haase;Fritz;Zschopauer Str.;1a;09111;Chemnitz;familie.haase@example.org;"
            "02.02.1975;05/2019;KV CHEMNITZ;ermäßigt",
            ";Haase;Gerda;Zschopauer Str.;1a;09111;Chemnitz;familie.haase@example.org;"
            "03.03.1977;05/2019;KV Chemnitz;regulär",
            "999999;Unbekannt;Ute;Str. der Nationen;5;09111;Chemnitz;;04.04.1960;01/2001;"
            "KV Chemnitz;regulär",
            ";Öztürk;Ömer;Reichenhainer Str.;2;09126;Chemnitz;oemer@example.org;;2018;"
            "KV Chemnitz;befreit",
        ],
        encoding="cp1252",
    )


def _ov_leipzig_sued(reg: Register) -> bytes:
    return ods_bytes(
        [
            [
                "Vorname",
                "Nachname",
                "Anschrift",
                "PLZ/Ort",
                "Telefon",
                "Geburtstag",
                "Eintritt",
                "Gliederung",
            ],
            [
                "Hanna",
                "Sommer",
                "Karl-Liebknecht-Str. 12",
                "04275 Leipzig",
                "0341 123456",
                date(1990, 4, 1),
                "März 2018",
                "OV Leipzig Süd",
            ],
            [
                "Ingo",
                "Winter",
                "Kochstr. 3",
                "04275 Leipzig",
                341654321,
                "01.02.1985",
                "April 2019",
                None,
            ],
            [
                "Jana",
                "Herbst",
                "Arndtstr. 7",
                "04275 Leipzig",
                None,
                date(2000, 1, 1),
                date(2020, 1, 1),
                "Ortsverband Leipzig-Süd",
            ],
        ],
        merged={(1, 7): 2},
    )


def _lv_sachsen(reg: Register) -> bytes:
    return xlsx(
        [
            [
                "Mitgliedsnummer",
                "Nachname",
                "Vorname",
                "E-Mail-Adresse",
                "Gliederung",
                "Beitragsklasse",
                "IBAN",
            ],
            [reg.erika, "Beispiel", "Erika", None, "SN-L", None, "DE02120300000000202051"],
            [reg.otto, "Normal", "Otto", "otto@example.org", "SN-DD", None, None],
            [None, "Neu", "Nora", "nora@example.org", "Leipzig", "regulär", None],
            [None, "Neustadt", "Nils", "nils@example.org", "SN-DD-N", "reduziert", None],
            ["Gesamt: 4", None, None, None, None, None, None],
        ],
        hidden=["G"],
    )


def _utf8_bom(reg: Register) -> bytes:
    return csv(
        [
            "Name,Straße,PLZ,Ort,Geburtsdatum,Eintrittsdatum,E-Mail",
            '"Müller, Anna","Hauptstr. 1",04109,Leipzig,1980-02-01 00:00:00,'
            "2019-02-01T00:00:00,anna.mueller@example.org",
            'Peter Schmidt,"Ring 5, Hinterhaus",04109,Leipzig,1975-07-07,2020-01-15,',
        ],
        encoding="utf-8-sig",
    )


def _club_export(reg: Register) -> bytes:
    return csv(
        [
            "Mitgliedsnr;Vorname;Nachname;E-Mail-Adresse;Telefon privat;Geb.-Datum;Eintritt;"
            "Austritt;Status;KV",
            ";Sabine;Stadt;sabine@example.org;0341 99;13/02/1981;01/03/2019;;aktiv;SV Leipzig",
            ";Tom;Land;tom@example.org;;02/10/1990;15/06/2020;;aktiv;KV Leipzig",
            ";Uwe;Alt;uwe@example.org;;03/03/1950;01/01/2000;31/12/2020;ausgetreten;KV Leipzig",
        ]
    )


def _us_dates(reg: Register) -> bytes:
    return csv(
        [
            "First Name,Last Name,Date of Birth,Joined,Email",
            "Mary,Miller,02/03/1980,04/05/2019,mary@example.org",
            "John,Smith,06/07/1985,08/09/2020,john@example.org",
        ]
    )


def _planted_errors(reg: Register) -> bytes:
    header = ["Vorname", "Nachname", "PLZ", "E-Mail", "Geburtsdatum", "KV"]
    return xlsx(
        [
            header,
            ["Anna", "Adler", "0282", "", "01.01.1980", "KV Görlitz"],
            ["Bea", "Bauer", "02826", "bea(at)example.org", "01.01.1981", "KV Görlitz"],
            ["Carl", "Conrad", "02826", "", "01.01.2030", "KV Görlitz"],
            ["Dora", "Doppel", "02826", "", "05.05.1985", "KV Görlitz"],
            ["Dora", "Doppel", "02826", "", "05.05.1985", "KV Görlitz"],
            ["Emil", None, "02826", "", "06.06.1986", "KV Görlitz"],
            ["Frida", "Fein", "02826", "frida@example.org", "07.07.1987", "KV Görlitz"],
        ],
        title="KV Görlitz",
    )


def _two_digit_years(reg: Register) -> bytes:
    return xlsx(
        [
            ["Vorname", "Nachname", "Geburtsdatum", "Eintritt"],
            ["Gabi", "Gans", "1.2.79", "15.3.21"],
            ["Hugo", "Hahn", 29252, "01.02.2019 00:00"],
            ["Ida", "Igel", datetime(1988, 8, 8, 14, 30), 43831.5],
        ]
    )


def _families(reg: Register) -> bytes:
    return ods_bytes(
        [
            ["Vorname", "Nachname", "E-Mail", "Geburtsdatum"],
            ["Klaus", "Müller", "mueller.familie@example.org", date(1970, 1, 1)],
            ["Karin", "Müller", "mueller.familie@example.org", date(1972, 2, 2)],
            ["Kai", "Müller", "MUELLER.FAMILIE@example.org", date(2004, 3, 3)],
            ["Lena", "Fuchs", reg.paul_email, date(1995, 4, 4)],
        ]
    )


def _month_only(reg: Register) -> bytes:
    return csv(
        [
            "Vorname;Nachname;Eintritt",
            "Mia;Monat;2015",
            "Nico;Monat;Mai 2016",
            "Ola;Monat;03.2017",
            "Pia;Monat;2018-04",
        ]
    )


def _federal_part(reg: Register) -> bytes:
    return xlsx(
        [
            ["MitglNr", "Nachname", "Vorname", "GebDatum", "LV", "KV", "Status", "Jahresbeitrag"],
            [500001, "Alt", "Albert", "01.01.1960", "SN", "Leipzig", "aktiv", "72,00"],
            [500002, "Bolt", "Berta", "02.02.1962", "SN", "KV Dresden", "aktiv", "120,00"],
            [500003, "Crohn", "Cai", "03.03.1963", "SH", "Kiel", "aktiv", "36,00"],
        ]
    )


def _merged_kv(reg: Register) -> bytes:
    return xlsx(
        [
            ["KV", "Vorname", "Nachname"],
            ["KV Leipzig", "Quentin", "Quast"],
            [None, "Rosa", "Rot"],
            [None, "Sven", "Sand"],
            ["KV Dresden", "Tina", "Tal"],
            [None, "Udo", "Ufer"],
        ],
        merges=["A2:A4", "A5:A6"],
    )


CASES = [
    Case(
        "a district's xlsx of years: title, amounts, KV spellings, footer",
        "kv-dresden-2019.xlsx",
        _kv_dresden,
        after={"new": 5, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 1},
        values={
            4: {
                "last_name": "Weiß",
                "street": "Am Markt 2",
                "division": "SN-DD",
                "fee_class": "regular",
                "dues_tier": "72.00",
                "date_of_birth": "1979-02-01",
                "joined_on": "2021-03-15",
            },
            5: {"postal_code": "01099", "dues_tier": None, "joined_on": "2021-03-15"},
            6: {"fee_class": "reduced", "joined_on": "2019-02-04", "date_of_birth": "1980-02-01"},
            7: {"division": "SN-DD", "fee_class": "regular", "dues_tier": None},
            8: {"division": "SN-DD", "dues_tier": "72.00", "joined_on": "2020-06-01"},
        },
        warnings={9: "Summe: 5 Mitglieder"},
        unmapped=["Lfd. Nr.", "Bemerkung"],
    ),
    Case(
        "a Windows-1252 CSV: house numbers apart, month-only dates, family, unknown number",
        "kv-chemnitz.csv",
        _kv_chemnitz,
        before_errors=5,
        decisions={"dates": {"joined_on": {"partial": "first"}}},
        after={"new": 3, "changed": 1, "unchanged": 0, "errors": 0, "unknown": 1, "skipped": 0},
        values={
            2: {"street": "Brückenstr. 10", "division": "SN-C"},
            3: {"street": "Zschopauer Str. 1a", "fee_class": "reduced", "joined_on": "2019-05-01"},
            6: {"last_name": "Öztürk", "fee_class": "exempt", "joined_on": "2018-01-01"},
        },
        warnings={3: "dieselbe E-Mail-Adresse", 4: "dieselbe E-Mail-Adresse", 5: "999999"},
    ),
    Case(
        "a LibreOffice sheet: address, postal code with city, merged division, month names",
        "ov-leipzig-sued.ods",
        _ov_leipzig_sued,
        before_errors=2,
        decisions={"dates": {"joined_on": {"partial": "first"}}},
        after={"new": 3, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 0},
        values={
            2: {
                "street": "Karl-Liebknecht-Str. 12",
                "postal_code": "04275",
                "city": "Leipzig",
                "division": "SN-L-1",
                "joined_on": "2018-03-01",
                "date_of_birth": "1990-04-01",
            },
            3: {"division": "SN-L-1", "phone": "0341654321", "joined_on": "2019-04-01"},
            4: {"division": "SN-L-1", "joined_on": "2020-01-01"},
        },
    ),
    Case(
        "a state's list: codes and a place name with two candidates, hidden IBAN column",
        "lv-sachsen-gesamt.xlsx",
        _lv_sachsen,
        before_errors=1,
        decisions={"division": {"Leipzig": "SN-L"}},
        after={"new": 2, "changed": 1, "unchanged": 1, "errors": 0, "unknown": 0, "skipped": 1},
        values={4: {"division": "SN-L"}, 5: {"division": "SN-DD-N", "fee_class": "reduced"}},
        errors={},
        unmapped=["IBAN"],
    ),
    Case(
        "UTF-8 with BOM and commas: whole names, dates with a time",
        "utf8-bom-komma.csv",
        _utf8_bom,
        after={"new": 2, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 0},
        values={
            2: {
                "first_name": "Anna",
                "last_name": "Müller",
                "date_of_birth": "1980-02-01",
                "joined_on": "2019-02-01",
            },
            3: {"first_name": "Peter", "last_name": "Schmidt", "street": "Ring 5, Hinterhaus"},
        },
    ),
    Case(
        "a club program's export: slashed dates, statuses, a former member, SV and KV",
        "verein-export.csv",
        _club_export,
        after={"new": 2, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 1},
        values={
            2: {"division": "SN-L-SV", "date_of_birth": "1981-02-13", "joined_on": "2019-03-01"},
            3: {"division": "SN-L", "date_of_birth": "1990-10-02"},
        },
        warnings={4: "ehemaliges Mitglied"},
    ),
    Case(
        "English headers, dates either way round",
        "us-dates.csv",
        _us_dates,
        before_errors=2,
        decisions={"dates": {"date_of_birth": {"order": "mdy"}, "joined_on": {"order": "mdy"}}},
        after={"new": 2, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 0},
        values={2: {"date_of_birth": "1980-02-03", "joined_on": "2019-04-05"}},
    ),
    Case(
        "planted errors, each refused with its reason",
        "kv-goerlitz-fehler.xlsx",
        _planted_errors,
        after={"new": 1, "changed": 0, "unchanged": 0, "errors": 6, "unknown": 0, "skipped": 0},
        values={10: {"division": "SN-GR", "email": "frida@example.org"}},
        errors={
            4: "Postleitzahl „0282“",
            5: "„bea(at)example.org“ ist keine E-Mail-Adresse",
            6: "liegt in der Zukunft",
            7: "derselbe Name und dasselbe Geburtsdatum wie Zeile 8",
            8: "derselbe Name und dasselbe Geburtsdatum wie Zeile 7",
            9: "Nachname fehlt",
        },
    ),
    Case(
        "two-digit years, serials as numbers, times of day",
        "zwei-stellige-jahre.xlsx",
        _two_digit_years,
        after={"new": 3, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 0},
        values={
            2: {"date_of_birth": "1979-02-01", "joined_on": "2021-03-15"},
            3: {"date_of_birth": "1980-02-01", "joined_on": "2019-02-01"},
            4: {"date_of_birth": "1988-08-08", "joined_on": "2020-01-01"},
        },
    ),
    Case(
        "families sharing an address, in the sheet and with the register",
        "familien.ods",
        _families,
        after={"new": 4, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 0},
        values={4: {"email": "mueller.familie@example.org"}},
        warnings={2: "dieselbe E-Mail-Adresse wie Zeile 3, 4", 5: "eine Familie"},
    ),
    Case(
        "entry dates with the month or the year only",
        "nur-monat.csv",
        _month_only,
        before_errors=4,
        decisions={"dates": {"joined_on": {"partial": "first"}}},
        after={"new": 4, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 0},
        values={
            2: {"joined_on": "2015-01-01"},
            3: {"joined_on": "2016-05-01"},
            4: {"joined_on": "2017-03-01"},
            5: {"joined_on": "2018-04-01"},
        },
        warnings={3: "gelesen als 01.05.2016"},
    ),
    Case(
        "the federal office's part list: state codes, place names, numbers to bring in",
        "bund-teilliste.xlsx",
        _federal_part,
        federal=True,
        before_errors=1,
        decisions={"division": {"Leipzig": "SN-L"}},
        after={"new": 0, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 3, "skipped": 0},
        values={
            2: {"division": "SN-L", "dues_tier": "72.00"},
            3: {"division": "SN-DD", "fee_class": "regular", "dues_tier": None},
            4: {"division": "SH-KI", "fee_class": "reduced"},
        },
    ),
    Case(
        "a division merged over its members' rows",
        "merged-kv.xlsx",
        _merged_kv,
        after={"new": 5, "changed": 0, "unchanged": 0, "errors": 0, "unknown": 0, "skipped": 0},
        values={
            2: {"division": "SN-L"},
            3: {"division": "SN-L"},
            4: {"division": "SN-L"},
            5: {"division": "SN-DD"},
            6: {"division": "SN-DD"},
        },
    ),
]

if __name__ == "__main__":
    import sys
    from pathlib import Path

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    target.mkdir(parents=True, exist_ok=True)
    sample = Register(erika=100001, otto=100002, karla=100003, paul_email="paul@example.org")
    for case in CASES:
        (target / case.filename).write_bytes(case.build(sample))
        print(target / case.filename)
