"""A party's year: dues follow events, the first dues make a member active, references,
donations, returns and the finance order's rules (issue: statuses, dues and arrears)."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finance import payments, services, tasks
from finance.models import Charge, FeeRule, Payment
from finance.references import numbers_in, reference_for
from members import services as register
from members.models import AuditEntry, EndReason, Member
from outbox.models import OutboundEmail
from tests.factories import make_member
from tests.finance.statements import entry, statement

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


def at(day: date):
    return time_machine.travel(
        datetime(day.year, day.month, day.day, 12, tzinfo=BERLIN), tick=False
    )


@pytest.fixture
def rules(db):
    FeeRule.objects.create(
        fee_class="regular",
        yearly_amount=Decimal("120.00"),
        valid_from=date(2020, 1, 1),
        tiers="72,120,180,240,360,480,600",
    )
    FeeRule.objects.create(
        fee_class="reduced", yearly_amount=Decimal("12.00"), valid_from=date(2020, 1, 1)
    )
    FeeRule.objects.create(
        fee_class="minor", yearly_amount=Decimal("12.00"), valid_from=date(2020, 1, 1)
    )
    FeeRule.objects.create(
        fee_class="exempt", yearly_amount=Decimal("0.00"), valid_from=date(2020, 1, 1)
    )


def owed(member, year=2026):
    total = Charge.objects.filter(member=member, year=year).aggregate(total=Sum("amount"))
    return total["total"] or Decimal(0)


def admit(division, day, **values):
    fields = {"first_name": "Nora", "last_name": "Neu", "email": "nora@example.org", **values}
    with at(day):
        return register.admit_member(by=None, division=division, values=fields, joined_on=day)


def book(*entries, day=date(2026, 3, 20), name="auszug.xml", iban="DE02120300000000202051"):
    with at(day):
        return payments.import_statement(
            content=statement(*entries, statement_id=name, iban=iban), filename=name, by=None
        )


# --- Dues follow the register's events --------------------------------------------------


def test_admission_in_march_charges_the_pro_rata_dues_at_once_and_welcomes(tree, rules):
    nora = admit(tree.leipzig, date(2026, 3, 15))
    assert owed(nora) == Decimal("100.00")  # March to December: ten twelfths of 120 €
    nora.refresh_from_db()
    assert (nora.status, nora.balance, nora.payment_status) == (
        "pending",
        Decimal("-100.00"),
        "due",
    )
    welcome = OutboundEmail.objects.get(to=["nora@example.org"])
    assert str(nora.membership_number) in welcome.subject
    assert f"MB2026 {nora.membership_number}" in welcome.body_text
    assert "100,00 €" in welcome.body_text
    run = services.run_dues(year=2026)  # the yearly run finds nothing left to do
    assert (run.charged, run.corrected, run.unchanged) == (0, 0, 1)


def test_paying_the_first_dues_in_full_makes_the_member_active_and_never_pending_again(tree, rules):
    nora = admit(tree.leipzig, date(2026, 3, 15))
    number = nora.membership_number
    book(entry("60.00", ref="P1", reference=f"MB2026 {number}"), name="a")
    nora.refresh_from_db()
    assert nora.status == "pending"  # 60 of 100 € is not the first dues in full
    book(
        entry("40.00", ref="P2", reference=f"MB2026 {number}", e2e="E2", direct_debit=True),
        name="b",
    )
    nora.refresh_from_db()
    assert nora.status == "active"
    assert AuditEntry.objects.filter(action="member.activated", object_id=str(nora.pk)).exists()
    assert nora.versions.filter(changes__has_key="status").count() == 1
    book(entry("40.00", ref="P3", e2e="E2", credit=False, return_reason="MD06"), name="c")
    nora.refresh_from_db()
    assert (nora.status, nora.balance) == ("active", Decimal("-40.00"))  # a return: never back


def test_an_exempt_member_is_active_at_once(tree, rules):
    member = admit(tree.leipzig, date(2026, 3, 15), fee_class="exempt")
    member.refresh_from_db()
    assert (member.status, owed(member)) == ("active", Decimal(0))


def test_an_exit_reverses_the_months_after_it_in_its_own_transaction(tree, rules):
    member = admit(tree.leipzig, date(2026, 1, 10))
    assert owed(member) == Decimal("120.00")
    with at(date(2026, 7, 1)):
        register.end_membership(by=None, member=member, on=date(2026, 7, 1), reason=EndReason.EXIT)
    assert owed(member) == Decimal("60.00")  # January to June
    with at(date(2026, 8, 1)):
        death = admit(tree.dresden, date(2026, 8, 1), email="")
        register.end_membership(by=None, member=death, on=date(2026, 8, 2), reason=EndReason.DEATH)
    assert owed(death) == Decimal("10.00")  # the one month begun


def test_a_tier_change_charges_the_difference_at_once_from_the_next_month(tree, rules):
    member = admit(tree.leipzig, date(2026, 1, 10))
    with at(date(2026, 6, 15)):
        register.update_member(by=None, member=member, changes={"dues_tier": Decimal("240")})
    rows = list(
        Charge.objects.filter(member=member)
        .order_by("pk")
        .values_list("kind", "amount", "due_on", "overdue_on")
    )
    assert rows == [  # January to June 6 x 10 €, from July 6 x 20 €: 60 € more, due from today
        ("dues", Decimal("120.00"), date(2026, 3, 1), date(2026, 3, 31)),
        ("dues", Decimal("60.00"), date(2026, 6, 15), date(2026, 7, 15)),
    ]


def test_a_minor_turning_18_pays_the_regular_dues_from_the_next_month_and_moves_class(tree, rules):
    member = admit(
        tree.leipzig, date(2026, 1, 10), fee_class="minor", date_of_birth=date(2008, 6, 15)
    )
    assert owed(member) == Decimal("66.00")  # Jan-Jun 6 x 1 €, Jul-Dec 6 x 10 €
    with at(date(2026, 6, 14)):
        assert services.apply_fee_transitions(on=date(2026, 6, 14)) == 0
    with at(date(2026, 6, 15)):
        assert services.apply_fee_transitions(on=date(2026, 6, 15)) == 1
    member.refresh_from_db()
    assert member.fee_class == "regular"
    assert owed(member) == Decimal("66.00")  # anticipated: the change charged nothing new


def test_a_reduction_expires_and_the_member_is_regular_again(tree, rules):
    member = admit(tree.leipzig, date(2026, 1, 10))
    with at(date(2026, 1, 20)):
        register.update_member(
            by=None,
            member=member,
            changes={"fee_class": "reduced", "reduced_until": date(2026, 4, 30)},
        )
    assert owed(member) == Decimal(
        "93.00"
    )  # January 10 €, February-April 3 x 1 €, May-December 8 x 10 €
    with at(date(2026, 5, 1)):
        assert services.apply_fee_transitions(on=date(2026, 5, 1)) == 1
    member.refresh_from_db()
    assert member.fee_class == "regular"


def test_the_finance_order_is_enforced(tree, rules):
    member = admit(tree.leipzig, date(2026, 1, 10))
    with at(date(2026, 2, 1)):
        with pytest.raises(
            ValidationError, match="Beitragsstufe der Finanzordnung wählen: 72, 120, 180"
        ):
            register.update_member(by=None, member=member, changes={"dues_tier": Decimal("100")})
        with pytest.raises(ValidationError, match="bis zu einem Datum"):
            register.update_member(by=None, member=member, changes={"fee_class": "reduced"})
        with pytest.raises(ValidationError, match="höchstens ein Jahr"):
            register.update_member(
                by=None,
                member=member,
                changes={"fee_class": "reduced", "reduced_until": date(2027, 6, 1)},
            )
        with pytest.raises(ValidationError, match="Geburtsdatum"):
            register.update_member(by=None, member=member, changes={"fee_class": "minor"})


def test_the_fee_class_request_offers_the_tiers_and_the_reductions_end(
    client, tree, board_sn, rules
):
    member = admit(tree.leipzig, date(2026, 1, 10))
    client.force_login(board_sn)
    url = reverse("members:request_for_member", args=[member.pk, "fee_class"])
    page = client.get(url).text
    assert '<option value="240">240 €</option>' in page
    assert 'name="reduced_until"' in page
    refused = client.post(url, {"fee_class": "regular", "dues_tier": "100"})
    assert refused.status_code == 200 and not member.change_requests.exists()
    no_end = client.post(url, {"fee_class": "reduced"})
    assert "Datum" in no_end.text and not member.change_requests.exists()
    client.post(url, {"fee_class": "reduced", "reduced_until": "2026-12-31"})
    assert member.change_requests.get().proposed == {
        "fee_class": "reduced",
        "reduced_until": "2026-12-31",
    }


# --- Grace period -------------------------------------------------------------------------


def test_arrears_begin_after_the_rules_grace_period(tree, rules):
    member = admit(tree.leipzig, date(2026, 1, 10))
    charge = Charge.objects.get(member=member)
    assert (charge.due_on, charge.overdue_on) == (date(2026, 3, 1), date(2026, 3, 31))
    for day, expected in (
        (date(2026, 2, 28), ("paid_up", None)),
        (date(2026, 3, 1), ("due", None)),
        (date(2026, 3, 30), ("due", None)),
        (date(2026, 3, 31), ("in_arrears", date(2026, 3, 31))),
    ):
        with at(day):
            tasks.follow_payment_calendar()  # the nightly job alone moves them
        member.refresh_from_db()
        assert (member.payment_status, member.arrears_since) == expected, day


def test_the_calendar_job_catches_up_missed_nights_and_reads_only_its_members(tree, rules):
    owing = admit(tree.leipzig, date(2026, 1, 10))
    other = admit(tree.leipzig, date(2026, 1, 10))
    Charge.objects.filter(member=other).update(due_on=date(2026, 6, 1), overdue_on=date(2026, 7, 1))
    Member.objects.filter(pk=other.pk).update(balance=Decimal("5.00"))  # drift, by hand
    with at(date(2026, 3, 4)):  # the worker was down from 1 to 3 March
        tasks.follow_payment_calendar()
        assert payments.follow_calendar(date(2026, 3, 4)) == 0  # twice: nothing more to do
    owing.refresh_from_db()
    other.refresh_from_db()
    assert owing.payment_status == "due"
    assert other.balance == Decimal("5.00")  # no charge of its fell due: not read
    with at(date(2026, 3, 8)):  # Sunday night: the weekly sweep repairs and reports drift
        assert payments.recompute_all() == 1
    other.refresh_from_db()
    assert other.balance == Decimal("0.00")  # its dues fall due in June


# --- References -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "MB2026 {n}",
        "mb2026 {n}",
        "MB 2026/{n}",
        "MB-2026-{n}",
        "MB2026-000{n}",
        "Mitgl.-Nr. {n}",
        "Mitgliedsnummer: {n}",
        "Beitrag 2026 MNr {n}",
        "Mitglieds-Nr.{n} Beitrag",
    ],
)
def test_a_small_membership_number_is_found_in_every_spelling(tree, rules, text):
    member = admit(tree.leipzig, date(2026, 1, 10))
    Member.objects.filter(pk=member.pk).update(membership_number=7)
    result = book(entry("120.00", ref="S1", reference=text.format(n=7)))
    assert Payment.objects.get(statement=result).member_id == member.pk


@given(
    number=st.integers(min_value=1, max_value=99_999_999),
    year=st.integers(min_value=2000, max_value=2099),
    spelling=st.sampled_from(["MB{y} {n}", "mb{y}/{n}", "MB {y}-{n}", "MB{y}:{n}", "MB.{y} {n}"]),
    before=st.sampled_from(["", "Beitrag ", "Mitgliedsbeitrag, ", "Überweisung "]),
    after=st.sampled_from(["", " Danke", " 1. Hälfte", ", Anna Alt"]),
)
@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_prescribed_reference_is_read_however_it_is_spelled(
    number, year, spelling, before, after
):
    text = before + spelling.format(y=year, n=number) + after
    assert numbers_in(text) == [number]
    assert numbers_in(reference_for(number, year)) == [number]


def test_dates_and_amounts_are_not_membership_numbers():
    assert numbers_in("Beitrag vom 01.03.2026 über 120,00 EUR") == []


def test_a_reference_naming_two_members_waits_with_a_proposed_split(tree, rules):
    anna = admit(tree.leipzig, date(2026, 1, 10), first_name="Anna", email="")
    bert = admit(tree.leipzig, date(2026, 1, 10), first_name="Bert", email="")
    result = book(
        entry(
            "240.00",
            ref="T1",
            reference=f"MB2026 {anna.membership_number} und MB2026 {bert.membership_number}",
        )
    )
    waiting = Payment.objects.get(statement=result)
    assert (waiting.member_id, waiting.match) == (None, "split")
    assert waiting.proposal == [
        {"member": anna.pk, "amount": "120.00"},
        {"member": bert.pk, "amount": "120.00"},
    ]
    assert result.summary["review"] == {"count": 1, "sum": "240.00"}
    with at(date(2026, 3, 21)):
        payments.split_payment(
            payment=waiting,
            parts=[(anna, Decimal("120.00")), (bert, Decimal("120.00"))],
            by=None,
        )
    anna.refresh_from_db()
    bert.refresh_from_db()
    assert (anna.balance, anna.status, bert.balance, bert.status) == (
        Decimal("0.00"),
        "active",
        Decimal("0.00"),
        "active",
    )
    waiting.refresh_from_db()
    assert waiting.match == "divided" and waiting.member_id is None


def test_a_split_must_add_up(tree, rules):
    anna = admit(tree.leipzig, date(2026, 1, 10), email="")
    bert = admit(tree.leipzig, date(2026, 1, 10), email="")
    result = book(
        entry(
            "200.00",
            ref="T2",
            reference=f"MB2026 {anna.membership_number} MB2026 {bert.membership_number}",
        )
    )
    with pytest.raises(
        payments.StatementError, match=r"ergeben zusammen 240,00 €, die Zahlung beträgt 200,00 €"
    ):
        payments.split_payment(
            payment=Payment.objects.get(statement=result),
            parts=[(anna, Decimal("120.00")), (bert, Decimal("120.00"))],
            by=None,
        )


# --- Donations ----------------------------------------------------------------------------


def test_a_donation_settles_no_dues_and_a_donation_account_books_donations(tree, rules, settings):
    nora = admit(tree.leipzig, date(2026, 1, 10))
    number = nora.membership_number
    result = book(entry("120.00", ref="D1", reference=f"Spende MB2026 {number}"), name="d1")
    nora.refresh_from_db()
    assert (nora.status, nora.balance) == ("pending", Decimal("-120.00"))
    assert Payment.objects.get(statement=result).purpose == "donation"
    settings.MUSTERROLLE_DONATION_IBANS = ["DE89370400440532013000"]
    book(
        entry("50.00", ref="D2", reference=f"MB2026 {number}"),
        name="d2",
        iban="DE89 3704 0044 0532 0130 00",
    )
    assert Payment.objects.get(bank_reference="D2").purpose == "donation"
    nora.refresh_from_db()
    assert nora.balance == Decimal("-120.00")


# --- Money out ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signals",
    [
        {"return_reason": "AC04", "bank_code": False},  # only RtrInf, no flag, no code
        {"subfamily": "UPDD"},  # only the ISO code of an unpaid debit
        {"proprietary": "NRTI+109+9310+997"},  # only the German GVC 109
        {"reversal": True, "bank_code": False},  # only the reversal flag
        {},  # nothing at all, but the end-to-end id names our payment
    ],
)
def test_a_return_is_recognised_by_every_signal_banks_use(tree, rules, signals):
    nora = admit(tree.leipzig, date(2026, 1, 10))
    reference = f"MB2026 {nora.membership_number}"
    book(entry("120.00", ref="L1", e2e="E-77", direct_debit=True, reference=reference), name="a")
    nora.refresh_from_db()
    assert nora.balance == Decimal("0.00")
    result = book(entry("120.00", ref="L2", e2e="E-77", credit=False, **signals), name="b")
    back = Payment.objects.get(bank_reference="L2")
    assert (back.member_id, back.amount, back.reverses.bank_reference) == (
        nora.pk,
        Decimal("-120.00"),
        "L1",
    )
    nora.refresh_from_db()
    assert nora.balance == Decimal("-120.00")
    assert result.summary["return"] == {"count": 1, "sum": "-120.00"}


def test_an_unknown_return_waits_for_a_person_and_every_cent_is_accounted(tree, rules):
    result = book(
        entry("10.00", ref="U1", reference="?"),
        entry("35.00", ref="U2", e2e="E-unknown", credit=False, return_reason="MD06"),
        entry("4.90", ref="U3", reference="Kontoführung", credit=False),
    )
    returned = Payment.objects.get(bank_reference="U2")
    assert (returned.member_id, returned.return_reason, returned.purpose) == (None, "MD06", "dues")
    assert Payment.objects.get(bank_reference="U3").purpose == "other"
    summary = result.summary
    assert summary["review"] == {"count": 2, "sum": "-25.00"}
    assert summary["other"] == {"count": 1, "sum": "-4.90"}
    total = sum(Decimal(v["sum"]) for v in summary.values() if isinstance(v, dict))
    assert total == Decimal(summary["total"]) == Decimal("-29.90")


# --- Audit --------------------------------------------------------------------------------


def test_finance_writes_are_audited(tree, rules, federal_admin):
    member = make_member(tree.leipzig)
    services.run_dues(year=2026, by=federal_admin)
    assert AuditEntry.objects.filter(action="dues.run", actor=federal_admin).exists()
    result = book(entry("5.00", ref="A1", reference="?"))
    payments.assign_payment(
        payment=Payment.objects.get(statement=result), member=member, by=federal_admin
    )
    assert AuditEntry.objects.filter(action="payment.assigned", actor=federal_admin).exists()


# --- Dues and donations per person and year ---------------------------------------------


def test_the_federal_office_reports_dues_and_donations_per_person_and_year(
    client, tree, rules, federal_admin, board_sn
):
    anna = admit(tree.leipzig, date(2026, 1, 10), first_name="Anna", last_name="Alt", email="")
    bert = admit(tree.kiel, date(2026, 1, 10), first_name="Bert", last_name="Berg", email="")
    number_a, number_b = anna.membership_number, bert.membership_number
    book(
        entry("120.00", ref="C1", reference=f"MB2026 {number_a}"),
        entry("25.00", ref="C2", reference=f"Spende MB2026 {number_a}"),
        entry("240.00", ref="C3", reference=f"MB2026 {number_a} MB2026 {number_b}"),
        entry("50.00", ref="C4", reference="Spende", name="=Frau Unbekannt", iban="DE11"),
        entry("4.90", ref="C5", reference="Gebühr", credit=False),
    )
    waiting = Payment.objects.get(bank_reference="C3")
    payments.split_payment(
        payment=waiting, parts=[(anna, Decimal("100.00")), (bert, Decimal("140.00"))], by=None
    )
    client.force_login(board_sn)
    assert client.get(reverse("finance:contributions")).status_code == 404
    client.force_login(federal_admin)
    response = client.post(
        reverse("finance:contributions"), {"year": "2026", "purpose": "Rechenschaftsbericht"}
    )
    lines = b"".join(response.streaming_content).decode().lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Mitgliedsnummer;Vorname;Nachname")
    assert lines[1:] == [
        f"{number_a};Anna;Alt;;;;;;220,00;25,00",
        f"{number_b};Bert;Berg;;;;;;140,00;0,00",
        ";;;;;;'=Frau Unbekannt;DE11;0,00;50,00",  # a formula is neutralised
    ]
    assert AuditEntry.objects.filter(action="members.exported", actor=federal_admin).exists()


def test_the_nightly_recompute_activates_a_member_whose_payment_was_missed(tree, rules):
    nora = admit(tree.leipzig, date(2026, 1, 10))
    Payment.objects.create(member=nora, amount=Decimal("120.00"), booked_on=date(2026, 2, 1))
    nora.refresh_from_db()
    assert nora.status == "pending"  # written past the services: nothing followed it
    with at(date(2026, 2, 2)):
        assert payments.recompute_all() == 2  # the balance, and the status
    nora.refresh_from_db()
    assert (nora.status, nora.balance) == ("active", Decimal("120.00"))  # paid ahead of March


def test_a_late_admission_is_due_from_the_day_it_is_recorded(tree, rules):
    with at(date(2026, 5, 2)):
        late = register.admit_member(
            by=None,
            division=tree.leipzig,
            values={"first_name": "Lea", "last_name": "Spät"},
            joined_on=date(2026, 1, 10),
        )
        payments.recompute_all()
    charge = Charge.objects.get(member=late)
    assert (charge.amount, charge.due_on, charge.overdue_on) == (
        Decimal("120.00"),
        date(2026, 5, 2),
        date(2026, 6, 1),
    )
    late.refresh_from_db()
    assert (late.payment_status, late.arrears_since) == ("due", None)


# --- Money that could be lost or counted twice --------------------------------------------


def _divided(tree):
    anna = admit(tree.leipzig, date(2026, 1, 10), first_name="Anna", email="")
    bert = admit(tree.leipzig, date(2026, 1, 10), first_name="Bert", email="")
    reference = f"MB2026 {anna.membership_number} MB2026 {bert.membership_number}"
    book(
        entry("240.00", ref="S1", e2e="E-S1", reference=reference, iban="DE77FAMILIE"),
        name="a",
    )
    return anna, bert, Payment.objects.get(bank_reference="S1")


def test_the_return_of_a_divided_booking_takes_back_each_part(tree, rules):
    anna, bert, booking = _divided(tree)
    with at(date(2026, 3, 21)):
        payments.split_payment(
            payment=booking, parts=[(anna, Decimal("100")), (bert, Decimal("140"))], by=None
        )
    result = book(
        entry("240.00", ref="S2", e2e="E-S1", credit=False, return_reason="MD06"),
        name="b",
        day=date(2026, 3, 25),
    )
    anna.refresh_from_db()
    bert.refresh_from_db()
    assert (anna.balance, bert.balance) == (Decimal("-120.00"), Decimal("-120.00"))
    assert result.summary["return"] == {"count": 1, "sum": "-240.00"}
    assert not payments.waiting_for_review(Payment.objects.all()).exists()


def test_a_returned_booking_cannot_be_split(tree, rules):
    anna, bert, booking = _divided(tree)
    book(
        entry("240.00", ref="S2", e2e="E-S1", credit=False, return_reason="MD06"),
        name="b",
        day=date(2026, 3, 25),
    )
    with pytest.raises(payments.StatementError, match="zurückgebucht"):
        payments.split_payment(
            payment=booking, parts=[(anna, Decimal("120")), (bert, Decimal("120"))], by=None
        )


def test_a_family_account_names_no_single_member(tree, rules):
    anna, bert, booking = _divided(tree)
    with at(date(2026, 3, 21)):
        payments.split_payment(
            payment=booking, parts=[(anna, Decimal("120")), (bert, Decimal("120"))], by=None
        )
    later = book(
        entry("240.00", ref="F2", reference="Beiträge Familie", iban="DE77FAMILIE"),
        name="c",
        day=date(2027, 3, 2),
    )
    assert Payment.objects.get(statement=later).member_id is None  # a person decides


def test_a_refund_naming_a_member_waits_and_a_suppliers_debit_is_other_money(tree, rules):
    nora = admit(tree.leipzig, date(2026, 1, 10))
    result = book(
        entry(
            "120.00",
            ref="R1",
            reference=f"Erstattung Überzahlung MB2026 {nora.membership_number}",
            credit=False,
        ),
        entry(
            "39.99",
            ref="R2",
            reference="Rechnung 4711",
            name="Telekom",
            credit=False,
            direct_debit=True,
            subfamily="ESDD",
        ),
    )
    refund = Payment.objects.get(bank_reference="R1")
    assert (refund.member_id, refund.suggested_member_id, refund.purpose) == (None, nora.pk, "dues")
    assert Payment.objects.get(bank_reference="R2").purpose == "other"
    assert result.summary["review"] == {"count": 1, "sum": "-120.00"}


def test_the_same_booking_from_the_camt_file_and_the_csv_download_is_not_booked_twice(tree, rules):
    nora = admit(tree.leipzig, date(2026, 1, 10))
    reference = f"MB2026 {nora.membership_number}"
    book(
        entry("120.00", ref="2026030212345", reference=reference, iban="DE12"), day=date(2026, 3, 2)
    )
    csv = (
        "Buchungstag;Auftraggeber;IBAN;Verwendungszweck;Betrag\n"
        f"02.03.2026;Nora Neu;DE12;{reference};120,00\n"
    ).encode("cp1252")
    with at(date(2026, 3, 3)):
        again = payments.import_statement(content=csv, filename="umsaetze.csv", by=None)
    twin = Payment.objects.get(statement=again)
    assert (twin.member_id, twin.match, twin.suggested_member_id) == (None, "duplicate", nora.pk)
    nora.refresh_from_db()
    assert nora.balance == Decimal("0.00")  # paid once


def test_a_csv_download_of_the_donations_account_books_donations(tree, rules, settings):
    settings.MUSTERROLLE_DONATION_IBANS = ["DE89370400440532013000"]
    nora = admit(tree.leipzig, date(2026, 1, 10))
    csv = (
        "Auftragskonto;Buchungstag;Verwendungszweck;Betrag\n"
        f"DE89 3704 0044 0532 0130 00;02.03.2026;MB2026 {nora.membership_number};120,00\n"
    ).encode("cp1252")
    with at(date(2026, 3, 3)):
        result = payments.import_statement(content=csv, filename="spenden.csv", by=None)
    assert Payment.objects.get(statement=result).purpose == "donation"


# --- Rules the system follows, and where people enter them --------------------------------


def test_the_nightly_class_change_survives_a_tier_the_order_no_longer_lists(tree, rules):
    odd = admit(tree.leipzig, date(2026, 1, 10), first_name="Alt", email="")
    normal = admit(tree.leipzig, date(2026, 1, 10), first_name="Neu", email="")
    for member in (odd, normal):
        with at(date(2026, 1, 20)):
            register.update_member(
                by=None,
                member=member,
                changes={"fee_class": "reduced", "reduced_until": date(2026, 4, 30)},
            )
    Member.objects.filter(pk=odd.pk).update(dues_tier=Decimal("100.00"))  # from an old sheet
    with at(date(2026, 5, 1)):
        assert services.apply_fee_transitions(on=date(2026, 5, 1)) == 2
    assert set(Member.objects.values_list("fee_class", flat=True)) == {"regular"}


def test_the_federal_office_admits_a_reduced_member_only_with_the_reductions_end(
    client, tree, rules, federal_admin
):
    client.force_login(federal_admin)
    url = reverse("admin:members_member_add")
    form = {
        "first_name": "Rita",
        "last_name": "Rabatt",
        "country": "DE",
        "fee_class": "reduced",
        "division": tree.leipzig.pk,
        "joined_on": "01.03.2026",
        "periods-TOTAL_FORMS": "0",
        "periods-INITIAL_FORMS": "0",
        "versions-TOTAL_FORMS": "0",
        "versions-INITIAL_FORMS": "0",
    }
    refused = client.post(url, form)
    assert refused.status_code == 200 and not Member.objects.filter(last_name="Rabatt").exists()
    assert "bis zu einem Datum" in refused.text
    client.post(url, {**form, "reduced_until": "28.02.2027"})
    assert Member.objects.get(last_name="Rabatt").reduced_until == date(2027, 2, 28)


def test_only_those_who_may_see_finances_export_balances(client, tree, rules, board_sn):
    from tests.factories import make_user

    admit(tree.leipzig, date(2026, 1, 10))
    officer = make_user("mitglieder-sn@example.org", tree.sn, "membership_officer")
    url = reverse("members:member_export", args=[tree.sn.pk])
    form = {"purpose": "Prüfung", "file_format": "csv"}
    for user, sees in ((officer, False), (board_sn, True)):
        client.force_login(user)
        header = b"".join(client.post(url, form).streaming_content).decode().splitlines()[0]
        assert ("Saldo (€)" in header, "Verwendungszweck" in header) == (sees, sees)


def test_a_collected_direct_debit_is_booked_as_one(tree, rules):
    nora = admit(tree.leipzig, date(2026, 1, 10))
    result = book(
        entry("120.00", ref="DD1", reference=f"MB2026 {nora.membership_number}", subfamily="ESDD")
    )
    assert Payment.objects.get(statement=result).method == "direct_debit"
