"""CAMT.053 imports: matching, suggestions, the unmatched, returns, no double booking, bad files."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone

from finance import payments, services
from finance.camt import StatementError
from finance.models import BankStatement, Charge, FeeRule, Payment
from members.models import Member
from tests.factories import make_member
from tests.finance.statements import entry, statement

BERLIN = ZoneInfo("Europe/Berlin")

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tree):
    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    with time_machine.travel(datetime(2026, 1, 2, 9, tzinfo=BERLIN)):  # due on 1 March
        people = _people(tree)
    payments.recompute_all()  # as every night since
    return people


def _people(tree):
    anna = make_member(tree.leipzig, first_name="Anna", last_name="Alt", joined_on=date(2020, 1, 1))
    bert = make_member(
        tree.leipzig, first_name="Bert", last_name="Brandt", joined_on=date(2020, 1, 1)
    )
    jörg = make_member(
        tree.dresden, first_name="Jörg", last_name="Müller", joined_on=date(2020, 1, 1)
    )
    carl = make_member(
        tree.dresden, first_name="Carl", last_name="Clever", joined_on=date(2020, 1, 1)
    )
    Payment.objects.create(
        member=carl,
        match="number",
        amount=Decimal("120"),
        booked_on=date(2025, 3, 1),
        counterparty_iban="DE44500105175407324931",
    )
    payments.refresh([carl.pk])  # a booking of last year, before these tests begin
    return anna, bert, jörg, carl


def bookings(anna, bert):
    return [
        entry("120.00", ref="R1", reference=f"MB2026 {anna.membership_number}", name="Anna Alt"),
        entry(
            "60.00",
            ref="R2",
            reference=f"Mitgliedsbeitrag 2026 Nr.{bert.membership_number} 1. Hälfte",
            name="B. Brandt",
        ),
        entry(
            "120.00",
            ref="R3",
            reference="Beitrag",
            name="Carl Clever",
            iban="DE44 5001 0517 5407 3249 31",
        ),
        entry("50.00", ref="R4", reference="Spende Sommerfest", name="Müller, Jörg"),
        entry("10.00", ref="R5", reference="???", name="Unbekannt"),
        entry("4.90", ref="R6", reference="Kontoführung", name="Bank", credit=False),
    ]


def test_bookings_are_matched_suggested_or_left_for_a_human(tree, people):
    anna, bert, jörg, carl = people
    result = payments.import_statement(
        content=statement(*bookings(anna, bert)), filename="kontoauszug.xml", by=None
    )
    found = {
        p.bank_reference: (p.member_id, p.match, p.suggested_member_id, p.amount)
        for p in Payment.objects.filter(statement=result)
    }
    assert found == {
        "R1": (anna.pk, "number", None, Decimal("120.00")),
        "R2": (bert.pk, "number", None, Decimal("60.00")),
        "R3": (carl.pk, "iban", None, Decimal("120.00")),
        "R4": (None, "suggested", jörg.pk, Decimal("50.00")),
        "R5": (None, "none", None, Decimal("10.00")),
        "R6": (None, "none", None, Decimal("-4.90")),  # the bank's fee: no member's money
    }
    purposes = dict(
        Payment.objects.filter(statement=result).values_list("bank_reference", "purpose")
    )
    assert (purposes["R4"], purposes["R6"], purposes["R1"]) == ("donation", "other", "dues")
    assert (result.booked, result.matched, result.skipped) == (6, 3, 0)
    summary = result.summary
    assert summary["entries"] == 6 and summary["total"] == "355.10"
    assert {key: value["count"] for key, value in summary.items() if isinstance(value, dict)} == {
        "dues": 3,
        "donation": 1,
        "return": 0,
        "review": 1,
        "other": 1,
        "booked_before": 0,
    }
    parts = [Decimal(v["sum"]) for v in summary.values() if isinstance(v, dict)]
    assert sum(parts) == Decimal(summary["total"])  # every cent of the file is accounted for


def test_balances_and_status_follow_each_booking(tree, people):
    anna, bert, jörg, _carl = people
    payments.import_statement(content=statement(*bookings(anna, bert)), filename="a.xml", by=None)
    states = {
        m.last_name: (m.balance, m.payment_status, m.arrears_since) for m in Member.objects.all()
    }
    due = Charge.objects.get(member=bert).overdue_on  # arrears begin after the grace period
    assert states == {
        "Alt": (Decimal("0.00"), "paid_up", None),
        "Brandt": (Decimal("-60.00"), "in_arrears", due),
        "Müller": (Decimal("-120.00"), "in_arrears", due),
        "Clever": (Decimal("120.00"), "paid_up", None),  # last year's payment counts too
    }
    payments.assign_payment(payment=Payment.objects.get(bank_reference="R4"), member=jörg, by=None)
    jörg.refresh_from_db()
    # A donation assigned to its giver settles no dues.
    assert (jörg.balance, jörg.payment_status) == (Decimal("-120.00"), "in_arrears")
    assert jörg.payments.get().purpose == "donation"


def test_the_same_statement_books_nothing_twice(tree, people):
    anna, bert, *_ = people
    content = statement(*bookings(anna, bert))
    payments.import_statement(content=content, filename="a.xml", by=None)
    with pytest.raises(StatementError, match=r"bereits importiert|already"):
        payments.import_statement(content=content, filename="a.xml", by=None)
    # The same bookings in a statement that overlaps the first one:
    again = payments.import_statement(
        content=statement(*bookings(anna, bert), statement_id="x"), filename="b.xml", by=None
    )
    assert (again.booked, again.skipped) == (0, 6)
    assert again.summary["booked_before"] == {"count": 6, "sum": "355.10"}
    assert Payment.objects.filter(statement__isnull=False).count() == 6


def test_a_returned_direct_debit_reverses_the_payment(tree, people):
    anna, *_ = people
    payments.import_statement(
        content=statement(
            entry(
                "120.00",
                ref="D1",
                e2e="E2E-42",
                direct_debit=True,
                reference=f"MB2026 {anna.membership_number}",
            )
        ),
        filename="a.xml",
        by=None,
    )
    payments.import_statement(
        content=statement(
            entry(
                "120.00",
                ref="D2",
                e2e="E2E-42",
                credit=False,
                reversal=True,
                direct_debit=True,
                booked="2026-03-09",
            ),
            statement_id="2",
        ),
        filename="b.xml",
        by=None,
    )
    returned = Payment.objects.get(bank_reference="D2")
    assert (returned.member_id, returned.amount, returned.reverses.bank_reference) == (
        anna.pk,
        Decimal("-120.00"),
        "D1",
    )
    anna.refresh_from_db()
    assert (anna.balance, anna.payment_status) == (Decimal("-120.00"), "in_arrears")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (statement(entry("10.00", ref="U1", currency="USD")), "USD"),
        (
            statement(
                entry("10.00", ref="N1"), namespace="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02"
            ),
            "camt.054",
        ),
        (statement(entry("10.00", ref="T1"))[:-40], "ParseError"),
        (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "x">]><Document>&e;</Document>',
            "DTDForbidden",
        ),
        (b"<Document>" + b" " * (21 * 1024 * 1024) + b"</Document>", "20 MB"),
    ],
)
def test_bad_statements_book_nothing(tree, people, content, message):
    with pytest.raises(StatementError, match=message):
        payments.import_statement(content=content, filename="x.xml", by=None)
    assert not BankStatement.objects.exists()
    assert not Payment.objects.filter(statement__isnull=False).exists()


def test_the_nightly_recompute_reports_and_repairs_drift(tree, people):
    anna, *_ = people
    assert payments.recompute_all() == 0
    Member.objects.filter(pk=anna.pk).update(balance=Decimal("999"), payment_status="paid_up")
    assert payments.recompute_all() == 1
    anna.refresh_from_db()
    assert (anna.balance, anna.payment_status) == (Decimal("-120.00"), "in_arrears")


def bank_csv(*lines: str) -> bytes:
    header = "Buchungstag;Valuta;Auftraggeber/Empfänger;IBAN;Verwendungszweck;Betrag;Währung"
    return "\n".join([header, *lines]).encode("cp1252")


def test_a_bank_csv_export_is_mapped_and_matched(tree, people):
    anna, _bert, jörg, _carl = people
    content = bank_csv(
        f"02.03.2026;02.03.2026;Anna Alt;DE12;MB2026 {anna.membership_number};120,00;EUR",
        "03.03.2026;03.03.2026;Müller, Jörg;;Spende;1.250,50;EUR",
        "04.03.2026;04.03.2026;Bank;;Kontoführung;-4,90;EUR",
    )
    result = payments.import_statement(content=content, filename="umsaetze.csv", by=None)
    found = sorted(
        (p.amount, p.member_id, p.match, p.suggested_member_id)
        for p in Payment.objects.filter(statement=result)
    )
    assert found == [
        (Decimal("-4.90"), None, "none", None),  # the bank's fee, booked as other money
        (Decimal("120.00"), anna.pk, "number", None),
        (Decimal("1250.50"), None, "suggested", jörg.pk),  # a donation, "Spende"
    ]
    again = payments.import_statement(content=content + b"\n", filename="umsaetze-2.csv", by=None)
    assert again.booked == 0  # the same bookings in another download are not booked twice


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"Name;Zweck\nA;B\n", "Buchungsdatum und den Betrag"),
        (bank_csv("02.03.2026;;A;;x;12,00;USD"), "USD"),
        (bank_csv("31.02.2026;;A;;x;12,00;EUR"), "Zeile 2"),
    ],
)
def test_bad_bank_csv_files_book_nothing(tree, people, content, message):
    with pytest.raises(StatementError, match=message):
        payments.import_statement(content=content, filename="x.csv", by=None)
    assert not BankStatement.objects.exists()


def test_a_return_in_the_same_file_as_its_payment_reverses_it(tree, people):
    anna, *_ = people
    payments.import_statement(
        content=statement(
            entry(
                "120.00",
                ref="S1",
                e2e="E-1",
                direct_debit=True,
                reference=f"MB2026 {anna.membership_number}",
            ),
            entry("120.00", ref="S2", e2e="E-1", credit=False, reversal=True, direct_debit=True),
        ),
        filename="a.xml",
        by=None,
    )
    anna.refresh_from_db()
    assert anna.balance == Decimal("-120.00")
    assert Payment.objects.get(bank_reference="S2").reverses.bank_reference == "S1"


def test_the_return_of_an_unassigned_payment_follows_it_when_assigned(tree, people):
    anna, *_ = people
    payments.import_statement(
        content=statement(entry("120.00", ref="U1", e2e="E-9", direct_debit=True, reference="?")),
        filename="a.xml",
        by=None,
    )
    payments.import_statement(
        content=statement(
            entry("120.00", ref="U2", e2e="E-9", credit=False, reversal=True, direct_debit=True),
            statement_id="2",
        ),
        filename="b.xml",
        by=None,
    )
    payments.assign_payment(payment=Payment.objects.get(bank_reference="U1"), member=anna, by=None)
    anna.refresh_from_db()
    assert (Payment.objects.get(bank_reference="U2").member, anna.balance) == (
        anna,
        Decimal("-120.00"),
    )


def _batch(total, *details):
    """One bank entry carrying several payments, each with its own amount (or none)."""
    parts = "".join(
        (f'<TxDtls><Amt Ccy="EUR">{amount}</Amt>' if amount else "<TxDtls>")
        + f"<RmtInf><Ustrd>{reference}</Ustrd></RmtInf></TxDtls>"
        for amount, reference in details
    )
    single = entry(total, ref="B1")
    start, end = single.index("<NtryDtls>"), single.index("</NtryDtls>") + len("</NtryDtls>")
    return single[:start] + f"<NtryDtls>{parts}</NtryDtls>" + single[end:]


def test_a_batch_booking_is_split_by_its_own_amounts(tree, people):
    anna, bert, *_ = people
    content = statement(
        _batch(
            "180.00",
            ("120.00", f"MB2026 {anna.membership_number}"),
            ("60.00", f"MB2026 {bert.membership_number}"),
        )
    )
    payments.import_statement(content=content, filename="a.xml", by=None)
    booked = sorted(
        (p.member_id, p.amount) for p in Payment.objects.filter(statement__isnull=False)
    )
    assert booked == sorted([(anna.pk, Decimal("120.00")), (bert.pk, Decimal("60.00"))])


@pytest.mark.parametrize(
    "details",
    [
        (("120.00", "a"), (None, "b")),  # a payment without its amount
        (("120.00", "a"), ("50.00", "b")),  # the parts do not add up to the entry
    ],
)
def test_a_batch_booking_that_does_not_add_up_books_nothing(tree, people, details):
    with pytest.raises(StatementError):
        payments.import_statement(
            content=statement(_batch("180.00", *details)), filename="a.xml", by=None
        )
    assert not Payment.objects.filter(statement__isnull=False).exists()


@pytest.mark.parametrize("amount", ["NaN", "Infinity", "1.234"])
def test_unreadable_amounts_are_a_clear_error(tree, people, amount):
    with pytest.raises(StatementError, match=r"unlesbaren Betrag|unreadable"):
        payments.import_statement(
            content=statement(entry(amount, ref="N1")), filename="a.xml", by=None
        )


def test_two_equal_payments_on_one_day_are_two_bookings_and_not_booked_again(tree, people):
    anna, *_ = people
    line = f"02.03.2026;02.03.2026;Anna Alt;;MB2026 {anna.membership_number};60,00;EUR"
    first = payments.import_statement(content=bank_csv(line, line), filename="a.csv", by=None)
    again = payments.import_statement(
        content=bank_csv(line, line) + b"\n", filename="b.csv", by=None
    )
    assert (first.booked, again.booked) == (2, 0)


def test_bookings_without_a_bank_reference_are_not_booked_twice(tree, people):
    anna, *_ = people
    booking = entry("120.00", ref="", reference=f"MB2026 {anna.membership_number}")
    payments.import_statement(content=statement(booking), filename="a.xml", by=None)
    again = payments.import_statement(
        content=statement(booking, statement_id="x"), filename="b.xml", by=None
    )
    assert again.booked == 0


def test_a_backdated_exit_reverses_the_years_dues(tree, people):
    from members import services as register
    from members.models import EndReason

    anna, *_ = people
    register.end_membership(by=None, member=anna, on=date(2026, 1, 1), reason=EndReason.EXIT)
    # The exit itself reversed the year's dues; the yearly run finds nothing left to do.
    assert sum(c.amount for c in Charge.objects.filter(member=anna, year=2026)) == 0
    assert services.run_dues(year=2026).corrected == 0


def test_the_weekly_recompute_repairs_many_members_each_to_its_own_state(tree, people):
    """Drift in many rows at once (written grouped by state): every member gets exactly the
    state recomputed for them, none another's."""
    more = [
        make_member(tree.leipzig, last_name=f"Viele{i}", joined_on=date(2020, 1, 1))
        for i in range(4)
    ]
    ids = [member.pk for member in [*people, *more]]
    expected = payments.payment_states(ids, timezone.localdate())
    Member.objects.filter(pk__in=ids).update(
        balance=Decimal("7.00"), payment_status="exempt", arrears_since=date(2001, 1, 1)
    )
    assert payments.recompute_all() == len(ids)
    stored = {
        pk: (balance, status, since)
        for pk, balance, status, since in Member.objects.filter(pk__in=ids).values_list(
            "pk", "balance", "payment_status", "arrears_since"
        )
    }
    assert stored == expected
    assert len(set(expected.values())) > 1  # not all alike: the grouping is exercised
