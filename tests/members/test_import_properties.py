"""Generated sheets (Hypothesis): any header spelling of the aliases, any spelling of a
division, a fee and a date that people write, any row order, .xlsx, .ods or CSV: every
member comes in, exactly as they are, and nothing else does."""

import csv
import io
from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from members import imports
from tests.factories import make_fee_rules
from tests.members.sheets import ods_bytes

pytestmark = pytest.mark.django_db

HEADERS = {
    "first_name": ["Vorname", "Rufname", "First name", "VORNAME", "Vor-Name"],
    "last_name": ["Nachname", "Name", "Familienname", "Zuname", "NACHNAME"],
    "street": ["Straße", "Str.", "Strasse / Hausnr.", "Anschrift", "Adresse", "Str. u. Hausnr."],
    "postal_code": ["PLZ", "Postleitzahl", "P.L.Z."],
    "city": ["Ort", "Wohnort", "Stadt"],
    "email": ["E-Mail", "Mail", "E-Mail-Adresse", "email ", "eMail privat"],
    "date_of_birth": ["Geburtsdatum", "Geb.", "Geb.-Datum", "Geburtstag", "geboren am"],
    "joined_on": ["Eintritt", "Eintritt am", "Mitglied seit", "Eintrittsdatum", "Aufnahme"],
    "division": ["KV", "Gliederung", "Kreisverband", "Verband"],
    "fee_class": ["Beitrag", "Beitragsklasse", "Beitragsart"],
}
DIVISIONS = {
    "SN-L": [
        "SN-L",
        "Kreisverband Leipzig",
        "KV Leipzig",
        "kv leipzig",
        " KV  LEIPZIG ",
        "Leipzig",
    ],
    "SN-DD": ["SN-DD", "Kreisverband Dresden", "KV Dresden", "Kreis-verband Dresden", "DRESDEN"],
    "SN-L-1": ["SN-L-1", "Ortsverband Leipzig-Süd", "OV Leipzig-Süd", "ov leipzig süd"],
}
FEES = {
    ("regular", None): ["regulär", "Regulär", "normal", "120 €", "10 € mtl."],
    ("regular", "72.00"): ["72 €", "72,00", "72,- EUR", "EUR 72", "6 € mtl."],
    ("regular", "240.00"): ["240 €", "240,00 EUR", "20 €/Monat"],
    ("reduced", None): ["ermäßigt", "ERMÄSSIGT", "36,00 €"],
    ("exempt", None): ["befreit", "beitragsfrei", "0,00"],
}
FIRST = ["Anna", "Jörg", "Änne", "Ömer", "Léa", "Zoë", "Karl-Heinz", "Marie Luise", "Ben"]
LAST = ["Müller", "Weiß", "Öztürk", "von der Heide", "Nguyen", "Schmidt-Łukasz", "O'Brien"]
STREETS = ["Hauptstr. 1", "Am Markt 2a", "Karl-Liebknecht-Straße 120", "Weg 3"]
CITIES = ["Leipzig", "Dresden", "Bad Düben", "Frankfurt (Oder)"]


@st.composite
def people(draw):
    count = draw(st.integers(min_value=1, max_value=8))
    result = []
    for index in range(count):
        born = draw(st.dates(date(1930, 1, 1), date(2007, 12, 31)))
        result.append(
            {
                "first_name": draw(st.sampled_from(FIRST)),
                "last_name": draw(st.sampled_from(LAST)),
                "street": draw(st.sampled_from(STREETS)),
                "postal_code": f"{draw(st.integers(1067, 99998)):05d}",
                "city": draw(st.sampled_from(CITIES)),
                "email": f"person{index}@example.org" if draw(st.booleans()) else "",
                "date_of_birth": born,
                "joined_on": draw(st.dates(date(1990, 1, 1), date(2025, 12, 31))),
                "division": draw(st.sampled_from(sorted(DIVISIONS))),
                "fee": draw(st.sampled_from(sorted(FEES, key=str))),
                # each person once: the same name and date of birth twice is a duplicate
                "key": index,
            }
        )
    # Unique people (name and date of birth), as a real register has them.
    seen, unique = set(), []
    for person in result:
        key = (person["first_name"], person["last_name"], person["date_of_birth"])
        if key not in seen:
            seen.add(key)
            unique.append(person)
    return unique


def date_spelling(draw, day: date, binary: bool):
    forms = [
        day.strftime("%d.%m.%Y"),
        f"{day.day}.{day.month}.{day.year}",
        day.isoformat(),
        day.strftime("%d.%m.%Y 00:00"),
        day.strftime("%d. %m. %Y"),
    ]
    if binary:
        forms += [datetime(day.year, day.month, day.day), (day - date(1899, 12, 30)).days]
    return draw(st.sampled_from(forms))


@st.composite
def sheets(draw):
    persons = draw(people())
    fmt = draw(st.sampled_from(["xlsx", "ods", "csv;", "csv,"]))
    binary = fmt in ("xlsx", "ods")
    fields = list(HEADERS)
    order = draw(st.permutations(fields))
    header = [draw(st.sampled_from(HEADERS[name])) for name in order]
    rows = []
    for person in draw(st.permutations(persons)):
        cells = {
            "first_name": person["first_name"],
            "last_name": person["last_name"],
            "street": person["street"],
            "postal_code": (
                int(person["postal_code"])
                if binary and draw(st.booleans())
                else person["postal_code"]
            ),
            "city": person["city"],
            "email": person["email"].upper() if draw(st.booleans()) else person["email"],
            "date_of_birth": date_spelling(draw, person["date_of_birth"], binary),
            "joined_on": date_spelling(draw, person["joined_on"], binary),
            "division": draw(st.sampled_from(DIVISIONS[person["division"]])),
            "fee_class": draw(st.sampled_from(FEES[person["fee"]])),
        }
        rows.append([cells[name] for name in order])
    title = draw(st.sampled_from([None, "Mitgliederliste", "Stand: 01.01.2025"]))
    table = ([[title], []] if title else []) + [header] + rows
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    return persons, table, fmt, encoding


def file_of(table: list[list], fmt: str, encoding: str) -> bytes:
    if fmt == "xlsx":
        workbook = Workbook()
        for row in table:
            workbook.active.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return buffer.getvalue()
    if fmt == "ods":
        return ods_bytes(table)
    text = io.StringIO()
    csv.writer(text, delimiter=fmt[-1]).writerows(table)
    try:
        return text.getvalue().encode(encoding)
    except UnicodeEncodeError:  # a name Windows-1252 cannot write
        return text.getvalue().encode("utf-8")


@pytest.fixture
def fee_rules(db):
    make_fee_rules()


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sheet=sheets())
def test_no_member_is_lost_or_changed_on_the_way_in(sheet, tree, board_sn, fee_rules):
    persons, table, fmt, encoding = sheet
    content = file_of(table, fmt, encoding)
    name = "liste." + fmt.rstrip(";,")
    batch = imports.create_batch(by=board_sn, division=tree.sn, content=content, filename=name)
    batch = imports.check_batch(batch_id=batch.pk)
    assert batch.error == ""
    assert [row["errors"] for row in batch.report] == [[]] * len(persons)
    assert {row["status"] for row in batch.report} == {"new"}
    found = sorted(
        (
            row["values"]["first_name"],
            row["values"]["last_name"],
            row["values"]["street"],
            row["values"]["postal_code"],
            row["values"]["city"],
            row["values"]["email"],
            row["values"]["date_of_birth"],
            row["values"]["joined_on"],
            row["values"]["division"],
            row["values"]["fee_class"],
            row["values"].get("dues_tier"),
        )
        for row in batch.report
    )
    expected = sorted(
        (
            p["first_name"],
            p["last_name"],
            p["street"],
            p["postal_code"],
            p["city"],
            p["email"].lower(),
            p["date_of_birth"].isoformat(),
            p["joined_on"].isoformat(),
            p["division"],
            p["fee"][0],
            p["fee"][1],
        )
        for p in persons
    )
    assert found == expected


def test_a_date_is_never_read_a_day_off():
    from members.import_values import parse_date

    @given(st.dates(date(1910, 1, 2), date(2100, 12, 31)))
    def check(day):
        serial = (day - date(1899, 12, 30)).days
        for spelling in (day.strftime("%d.%m.%Y"), day.isoformat(), serial, float(serial) + 0.5):
            assert parse_date(spelling).day == day
        assert parse_date(day + timedelta(0)).day == day

    check()
