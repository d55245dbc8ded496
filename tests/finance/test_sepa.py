"""SEPA direct debit: mandates, collection runs (pain.008 valid against the schema, nothing
collected twice), pre-notifications and what each return reason does to the mandate."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from lxml import etree

from finance import sepa, services, tasks
from finance.camt import StatementError
from finance.models import Charge, Debit, Mandate
from members.models import RoleAssignment
from outbox.models import OutboundEmail
from tests.finance.statements import entry
from tests.finance.test_year_rules import admit, at, book
from tests.finance.test_year_rules import rules as rules  # the fixture

pytestmark = pytest.mark.django_db
IBAN = "DE89 3704 0044 0532 0130 00"
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.008.001.08"}
TODAY = date(2026, 2, 10)
DUE = date(2026, 3, 2)


def member_with_mandate(division, *, email="nora@example.org", signed=date(2025, 6, 1), **values):
    member = admit(division, date(2026, 1, 5), email=email, **values)
    with at(TODAY):
        sepa.record_mandate(member=member, iban=IBAN, holder="Nora Neu", signed_on=signed, by=None)
    return member


def collect(**kwargs):
    with at(TODAY):
        return sepa.create(due_on=DUE, **kwargs)


def test_a_mandate_checks_the_iban_derives_the_bic_and_replaces_the_old_one(tree, rules):
    nora = admit(tree.leipzig, date(2026, 1, 5))
    with at(TODAY):
        with pytest.raises(ValidationError, match="keine gültige IBAN"):
            sepa.record_mandate(
                member=nora,
                iban="DE89 3704 0044 0532 0130 01",
                holder="N",
                signed_on=TODAY,
                by=None,
            )
        first = sepa.record_mandate(
            member=nora, iban=IBAN, holder="Nora  Neu", signed_on=TODAY, by=None
        )
        second = sepa.record_mandate(
            member=nora, iban="DE02120300000000202051", holder="Nora Neu", signed_on=TODAY, by=None
        )
    first.refresh_from_db()
    assert (first.reference, first.iban, first.bic, first.holder) == (
        f"MR-{nora.membership_number}-1",
        "DE89370400440532013000",
        "COBADEFFXXX",
        "Nora Neu",
    )
    assert first.revoked_on == TODAY  # replaced
    assert second.reference == f"MR-{nora.membership_number}-2"
    assert sepa.mandate_state(second, TODAY) == "usable"


def test_only_the_federal_office_records_a_mandate(tree, rules, treasurer_sn):
    nora = admit(tree.leipzig, date(2026, 1, 5))
    with pytest.raises(PermissionDenied):
        sepa.record_mandate(member=nora, iban=IBAN, holder="N", signed_on=TODAY, by=treasurer_sn)


def test_a_mandate_unused_for_36_months_lapses():
    mandate = Mandate(signed_on=date(2023, 3, 1))
    assert sepa.mandate_state(mandate, date(2026, 3, 1)) == "usable"
    assert sepa.mandate_state(mandate, date(2026, 3, 2)) == "lapsed"
    mandate.last_collected_on = date(2025, 3, 2)
    assert sepa.mandate_state(mandate, date(2026, 3, 2)) == "usable"


def test_the_dry_run_lists_debits_per_state_and_whom_it_skips_and_why(tree, rules):
    nora = member_with_mandate(tree.leipzig)
    paul = admit(tree.dresden, date(2026, 1, 5), first_name="Paul", email="paul@example.org")
    old = member_with_mandate(tree.sh, first_name="Olga", signed=date(2022, 1, 1))
    with at(TODAY):
        result = sepa.plan(due_on=DUE)
    assert [(d.member_id, d.amount, d.state, d.sequence) for d in result.debits] == [
        (nora.pk, Decimal("120.00"), "SN", "FRST")
    ]
    reasons = {s.member_id: s.reason for s in result.skipped}
    assert reasons == {paul.pk: "kein Mandat", old.pk: "Mandat verfallen (36 Monate nicht genutzt)"}
    assert result.per_state() == {"SN": (1, Decimal("120.00"))}


def test_the_file_is_valid_pain_008_and_nothing_is_collected_twice(tree, rules):
    nora = member_with_mandate(tree.leipzig)
    member_with_mandate(tree.sh, first_name="Jörg Ünal", email="j@example.org")
    collection, _result = collect()
    xml = bytes(collection.xml)
    sepa.validate_xml(xml)
    document = etree.fromstring(xml)
    assert document.findtext(".//p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert document.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=NS) == "240.00"
    assert document.findtext(".//p:CdtrSchmeId//p:Othr/p:Id", namespaces=NS) == "DE98ZZZ09999999999"
    assert f"MB2026 {nora.membership_number}" in xml.decode()
    assert Debit.objects.count() == 2
    # Started again: nothing left to collect; the members show as already collected.
    with pytest.raises(ValidationError, match="nichts einzuziehen"):
        collect()
    with at(TODAY):
        again = sepa.plan(due_on=DUE)
    assert {s.reason.split(" (")[0] for s in again.skipped} == {"bereits eingezogen"}
    # And the database refuses a second live debit of the same year, whatever code tries.
    first = Debit.objects.first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Debit.objects.create(
            collection=first.collection,
            member=first.member,
            mandate=first.mandate,
            year=first.year,
            amount=first.amount,
            sequence="RCUR",
            end_to_end_id="another",
        )


def test_a_broken_file_is_refused_by_the_schema_check():
    with pytest.raises(ValidationError, match="kein XML"):
        sepa.validate_xml(b"<Document><unclosed></Document>")
    wrong = (
        b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.008.001.08">'
        b"<CstmrDrctDbtInitn><GrpHdr/></CstmrDrctDbtInitn></Document>"
    )
    with pytest.raises(ValidationError, match=r"pain\.008-Schema"):
        sepa.validate_xml(wrong)


def test_a_due_date_too_soon_for_the_pre_notification_is_refused(tree, rules):
    member_with_mandate(tree.leipzig)
    with at(TODAY), pytest.raises(ValidationError, match="muss am oder nach dem"):
        sepa.create(due_on=date(2026, 2, 20))


def test_members_are_told_before_the_debit_by_e_mail_or_on_the_letter_list(
    tree, rules, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MUSTERROLLE_LETTERS_DIR = tmp_path
    nora = member_with_mandate(tree.leipzig)
    member_with_mandate(tree.dresden, first_name="Lotte", email="")
    with at(TODAY), django_capture_on_commit_callbacks(execute=True):  # the task, eager
        collection, _result = sepa.create(due_on=DUE)
    mails = list(OutboundEmail.objects.filter(template="sepa_prenotification"))
    assert [m.to for m in mails] == [[nora.email]]
    (sent,) = mail.outbox
    body = sent.body
    assert "120,00 €" in body and "02.03.2026" in body
    assert f"MR-{nora.membership_number}-1" in body and "DE98ZZZ09999999999" in body
    letters = list(tmp_path.glob("vorabankuendigung-*.pdf"))
    assert len(letters) == 1 and letters[0].read_bytes().startswith(b"%PDF")
    # Run again (a retried task): nobody is told twice.
    tasks.send_prenotifications(collection.pk)
    assert OutboundEmail.objects.filter(template="sepa_prenotification").count() == 1
    assert not Debit.objects.filter(notified_on__isnull=True).exists()


def return_of(debit, code, ref, day=date(2026, 3, 10)):
    number = debit.member.membership_number
    book(
        entry(
            str(debit.amount),
            ref=f"C-{ref}",
            e2e=debit.end_to_end_id,
            direct_debit=True,
            reference=f"MB2026 {number}",
            booked=day.isoformat(),
        ),
        entry(
            str(debit.amount),
            ref=ref,
            e2e=debit.end_to_end_id,
            credit=False,
            return_reason=code,
            booked=day.isoformat(),
        ),
        day=day,
        name=f"file-{ref}",
    )
    debit.refresh_from_db()
    debit.mandate.refresh_from_db()


@pytest.mark.parametrize("code", ["MD01", "AC04", "AC06", "MD07"])
def test_a_return_saying_the_mandate_cannot_be_used_ends_it_and_tells_the_board(
    tree, rules, board_sn, code
):
    nora = member_with_mandate(tree.leipzig)
    collect()
    debit = Debit.objects.get(member=nora)
    return_of(debit, code, "R1")
    assert (debit.returned_on, debit.return_reason) == (date(2026, 3, 10), code)
    assert (debit.mandate.unusable_since, debit.mandate.unusable_reason) == (
        date(2026, 3, 10),
        code,
    )
    told = OutboundEmail.objects.get(template="sepa_mandate_unusable")
    assert board_sn.email in told.to and code in told.subject
    with at(date(2026, 3, 11)):
        result = sepa.plan(due_on=date(2026, 4, 1))
    assert [s.reason for s in result.skipped] == [
        f"Mandat nach Rücklastschrift unbrauchbar ({code})"
    ]
    nora.refresh_from_db()
    assert nora.balance == Decimal("-120.00")  # the money went back: owed again


@pytest.mark.parametrize("code", ["AM04", "MS03"])
def test_a_return_for_lack_of_funds_is_retried_once_in_the_next_run(tree, rules, code):
    nora = member_with_mandate(tree.leipzig)
    collect()
    return_of(Debit.objects.get(member=nora), code, "R1")
    assert not OutboundEmail.objects.filter(template="sepa_mandate_unusable").exists()
    with at(date(2026, 3, 11)):
        retry, _result = sepa.create(due_on=date(2026, 4, 1))
    again = Debit.objects.get(collection=retry)
    assert (again.member_id, again.amount, again.sequence) == (nora.pk, Decimal("120.00"), "RCUR")
    return_of(again, code, "R2", day=date(2026, 4, 8))
    with at(date(2026, 4, 9)):
        result = sepa.plan(due_on=date(2026, 5, 1))
    assert [s.reason for s in result.skipped] == ["zweimal zurückgegeben: kein weiterer Versuch"]


def test_another_return_reason_is_not_collected_again(tree, rules):
    nora = member_with_mandate(tree.leipzig)
    collect()
    return_of(Debit.objects.get(member=nora), "MD06", "R1")  # the member asked for a refund
    with at(date(2026, 3, 11)):
        result = sepa.plan(due_on=date(2026, 4, 1))
    assert [s.reason for s in result.skipped] == [
        "zurückgegeben (MD06): wird nicht erneut eingezogen"
    ]


def test_the_command_lists_a_dry_run_and_writes_a_valid_file(tree, rules, tmp_path, capsys):
    nora = member_with_mandate(tree.leipzig)
    admit(tree.dresden, date(2026, 1, 5), first_name="Paul", email="paul@example.org")
    out = tmp_path / "lastschrift.xml"
    with at(TODAY):
        call_command("collect_dues", "--due", DUE.isoformat(), "--dry-run", "--out", str(out))
    text = capsys.readouterr().out
    assert "would collect 1 debit(s), 120.00 EUR" in text
    assert "  SN: 1 debit(s), 120.00 EUR" in text
    assert "kein Mandat: 1" in text and "Paul" not in text  # counted, not listed
    assert not out.exists() and not Debit.objects.exists()
    with at(TODAY):
        call_command(
            "collect_dues", "--due", DUE.isoformat(), "--division", "SN", "--out", str(out)
        )
    sepa.validate_xml(out.read_bytes())
    assert Debit.objects.get().member_id == nora.pk
    with at(TODAY), pytest.raises(CommandError, match="nichts einzuziehen"):
        call_command("collect_dues", "--due", DUE.isoformat(), "--out", str(out))


def test_a_board_member_cannot_collect(tree, rules, board_sn):
    member_with_mandate(tree.leipzig)
    assert RoleAssignment.objects.filter(user=board_sn).exists()
    with at(TODAY), pytest.raises(PermissionDenied, match="Bundesgeschäftsstelle"):
        sepa.create(due_on=DUE, by=board_sn)


def test_the_federal_office_makes_a_collection_in_the_admin_after_a_dry_run(
    tree, rules, federal_admin, client, django_capture_on_commit_callbacks
):
    nora = member_with_mandate(tree.leipzig)
    member_with_mandate(tree.sh, first_name="Olga", email="o@example.org", signed=date(2022, 1, 1))
    admit(tree.dresden, date(2026, 1, 5), first_name="Paul", email="paul@example.org")
    client.force_login(federal_admin)
    url = "/admin/finance/collection/new/"
    with at(TODAY):
        page = client.post(url, {"due_on": DUE.isoformat(), "dry_run": "1"})
        assert page.status_code == 200
        text = page.content.decode()
        assert "1 Lastschrift, 120,00 €" in text
        # Skipped, with the reason and how many: the lapsed mandate listed by name, the
        # member who pays by transfer only counted.
        assert "<td>Mandat verfallen (36 Monate nicht genutzt)</td><td>1</td>" in text
        assert "Olga" in text and "Paul" not in text
        assert not Debit.objects.exists()
        # A worker makes it; the page the office is sent to shows how far it has come.
        with django_capture_on_commit_callbacks() as queued:
            made = client.post(url, {"due_on": DUE.isoformat(), "create": "1"})
        assert made.status_code == 302 and "/run/" in made.url
        waiting = client.get(made.url).content.decode()
        assert '<progress max="100" value="0"' in waiting and 'http-equiv="refresh"' in waiting
        assert not Debit.objects.exists()
        for callback in queued:
            callback()  # the task (eager here; a real worker in production)
        done = client.get(made.url)
        debit = Debit.objects.get()
        assert debit.member_id == nora.pk
        assert done.status_code == 302 and done.url.endswith(f"/{debit.collection_id}/change/")
        # Started again: the worker finds nothing left and the page says so.
        with django_capture_on_commit_callbacks(execute=True):
            again = client.post(url, {"due_on": DUE.isoformat(), "create": "1"})
        assert "nichts einzuziehen" in client.get(again.url).content.decode()
        download = client.get(f"/admin/finance/collection/{debit.collection_id}/file/")
        sepa.validate_xml(download.content)
        mandates = client.get("/admin/finance/mandate/")
        assert f"MR-{nora.membership_number}-1" in mandates.content.decode()


def test_a_treasurer_sees_the_mandates_of_the_own_state_only(tree, rules, treasurer_sn, client):
    nora = member_with_mandate(tree.leipzig)
    olga = member_with_mandate(tree.sh, first_name="Olga", email="o@example.org")
    client.force_login(treasurer_sn)
    page = client.get(f"/finance/members/{nora.pk}/account/")
    assert page.status_code == 200
    text = page.content.decode()
    assert f"MR-{nora.membership_number}-1" in text and "… 3000" in text
    assert client.get(f"/finance/members/{olga.pk}/account/").status_code == 404
    assert client.get("/admin/finance/collection/new/").status_code in (302, 403)


def test_the_federal_office_records_a_mandate_in_the_admin_and_errors_are_shown(
    tree, rules, federal_admin, client
):
    nora = admit(tree.leipzig, date(2026, 1, 5))
    client.force_login(federal_admin)
    url = "/admin/finance/mandate/add/"
    form = {"member": nora.pk, "holder": "Nora Neu", "signed_on": "2026-01-05"}
    with at(TODAY):
        wrong = client.post(url, {**form, "iban": "DE89 3704 0044 0532 0130 01"})
        assert wrong.status_code == 200 and "keine gültige IBAN" in wrong.content.decode()
        future = client.post(url, {**form, "iban": IBAN, "signed_on": "2026-03-01"})
        assert "nicht in der Zukunft" in future.content.decode()
        assert not Mandate.objects.exists()
        made = client.post(url, {**form, "iban": IBAN})
    assert made.status_code == 302
    mandate = Mandate.objects.get()
    assert (mandate.reference, mandate.bic, mandate.created_by) == (
        f"MR-{nora.membership_number}-1",
        "COBADEFFXXX",
        federal_admin,
    )


# --- Monthly collection ------------------------------------------------------------------


def test_monthly_payment_needs_36_euros_a_year(tree, rules):
    minor = admit(tree.leipzig, date(2026, 1, 5), fee_class="minor", date_of_birth=date(2012, 5, 1))
    with at(TODAY), pytest.raises(ValidationError, match="mindestens 36,00 € im Jahr"):
        sepa.record_mandate(
            member=minor, iban=IBAN, holder="Eltern", signed_on=TODAY, by=None, monthly=True
        )
    assert not Mandate.objects.exists()


def test_monthly_dues_come_in_instalments_each_collected_once_in_its_month(tree, rules):
    nora = admit(tree.leipzig, date(2026, 1, 5))
    with at(TODAY):
        sepa.record_mandate(
            member=nora, iban=IBAN, holder="Nora Neu", signed_on=TODAY, by=None, monthly=True
        )
    # 2026 was charged at the admission (one yearly row) and is paid; 2027 is the first
    # year the dues run charges in instalments.
    book(entry("120.00", ref="B-1", reference=f"MB2026 {nora.membership_number}"))
    with at(date(2026, 12, 1)):
        services.run_dues(year=2027)
    charges = list(Charge.objects.filter(member=nora, year=2027).order_by("due_on"))
    assert [(c.amount, c.due_on) for c in charges] == [
        (Decimal("10.00"), date(2027, month, 1)) for month in range(1, 13)
    ]
    with at(date(2026, 12, 15)):
        january, _result = sepa.create(due_on=date(2027, 1, 4))
    assert [(d.amount, d.month) for d in january.debits.all()] == [(Decimal("10.00"), 1)]
    assert "Mitgliedsbeitrag 01/2027" in january.xml.decode()
    sepa.validate_xml(january.xml)
    # February: January's debit is on its way (not booked yet): only February's instalment.
    with at(date(2027, 1, 2)):
        tasks.follow_payment_calendar()  # the nightly job: January's instalment fell due
    with at(date(2027, 1, 15)):
        february, _result = sepa.create(due_on=date(2027, 2, 1))
        with pytest.raises(ValidationError, match="nichts einzuziehen"):
            sepa.create(due_on=date(2027, 2, 1))  # started twice: nothing collected twice
    assert [(d.amount, d.month, d.sequence) for d in february.debits.all()] == [
        (Decimal("10.00"), 2, "RCUR")
    ]
    first = february.debits.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        Debit.objects.create(
            collection=february,
            member=nora,
            mandate=first.mandate,
            year=2027,
            month=2,
            amount=Decimal("10.00"),
            sequence="RCUR",
            end_to_end_id="X-1",
        )


def test_instalments_of_a_year_joined_late_fall_due_from_the_entry(tree, rules):
    nora = admit(tree.leipzig, date(2026, 1, 5))
    with at(TODAY):
        sepa.record_mandate(
            member=nora, iban=IBAN, holder="Nora Neu", signed_on=TODAY, by=None, monthly=True
        )
    parts = services.instalments(
        amount=Decimal("100.00"),
        year=2027,
        months=[3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        not_before=date(2027, 3, 15),
        grace=timedelta(days=30),
    )
    assert parts[0] == (Decimal("10.00"), date(2027, 3, 15), date(2027, 4, 14))
    assert sum(p[0] for p in parts) == Decimal("100.00")
    thirds = services.instalments(
        amount=Decimal("100.00"),
        year=2027,
        months=[10, 11, 12],
        not_before=date(2027, 10, 1),
        grace=timedelta(days=30),
    )
    assert [p[0] for p in thirds] == [Decimal("33.33"), Decimal("33.33"), Decimal("33.34")]
    # Charged late (the dues run of 2027 only in June): the months begun fall due today.
    with at(date(2027, 6, 10)):
        services.run_dues(year=2027)
    charges = list(Charge.objects.filter(member=nora, year=2027).order_by("due_on"))
    assert (charges[0].amount, charges[0].due_on) == (Decimal("60.00"), date(2027, 6, 10))
    assert [c.due_on for c in charges[1:]] == [date(2027, month, 1) for month in range(7, 13)]
    assert sum(c.amount for c in charges) == Decimal("120.00")


def test_a_board_asks_for_a_mandate_and_the_federal_office_records_it(
    client, tree, board_sn, federal_admin, rules
):
    from django.urls import reverse

    from members import services as register_services

    nora = admit(tree.leipzig, date(2026, 1, 5))
    client.force_login(board_sn)
    assert "/request/mandate/" in client.get(reverse("members:member_detail", args=[nora.pk])).text
    url = reverse("members:request_for_member", args=[nora.pk, "mandate"])
    values = {
        "mandate_holder": "Nora  Neu",
        "mandate_iban": "DE89 3704 0044 0532 0130 01",  # a wrong check digit
        "mandate_signed_on": "2026-02-01",
    }
    with at(TODAY):
        refused = client.post(url, values)
        assert refused.status_code == 200
        assert "keine gültige IBAN: die Prüfziffern stimmen nicht" in refused.text
        assert not nora.change_requests.exists()
        client.post(url, {**values, "mandate_iban": IBAN, "mandate_monthly": "on"})
    request = nora.change_requests.get()
    assert request.proposed == {
        "mandate_holder": "Nora Neu",
        "mandate_iban": "DE89370400440532013000",
        "mandate_signed_on": "2026-02-01",
        "mandate_monthly": True,
    }
    listing = client.get(reverse("members:request_list")).text
    assert "DE89 … 3000" in listing and "DE89370400440532013000" not in listing
    assert not Mandate.objects.exists()  # a board cannot record it itself
    with at(TODAY):
        register_services.approve_change_request(request=request, by=federal_admin)
    mandate = Mandate.objects.get(member=nora)
    assert (mandate.iban, mandate.holder, mandate.signed_on, mandate.monthly) == (
        "DE89370400440532013000",
        "Nora Neu",
        date(2026, 2, 1),
        True,
    )
    assert mandate.created_by == federal_admin


FEES = {
    # camt.053.001.02: the charges' amount directly under Chrgs.
    "charges": '<Chrgs><Amt Ccy="EUR">3.50</Amt></Chrgs>',
    # Later versions: records, only those included in the amount count.
    "records": '<Chrgs><Rcrd><Amt Ccy="EUR">3.50</Amt><ChrgInclInd>true</ChrgInclInd></Rcrd>'
    '<Rcrd><Amt Ccy="EUR">9.99</Amt><ChrgInclInd>false</ChrgInclInd></Rcrd></Chrgs>',
    # No charges named: the amount taken back less the amount once instructed.
    "instructed": '<AmtDtls><InstdAmt><Amt Ccy="EUR">120.00</Amt></InstdAmt></AmtDtls>',
}


def returned_with_fees(debit, details, day=date(2026, 3, 10)):
    book(
        entry(
            "120.00",
            ref="C-1",
            e2e=debit.end_to_end_id,
            direct_debit=True,
            reference=f"MB2026 {debit.member.membership_number}",
            booked=day.isoformat(),
        ),
        entry(
            "123.50",
            ref="R-1",
            e2e=debit.end_to_end_id,
            credit=False,
            return_reason="AM04",
            booked=day.isoformat(),
            details=details,
        ),
        day=day,
    )


@pytest.mark.parametrize("form", FEES)
def test_the_banks_charges_for_a_return_are_the_partys_by_default(tree, rules, form):
    from finance.models import Payment

    nora = member_with_mandate(tree.leipzig)
    collect()
    returned_with_fees(Debit.objects.get(member=nora), FEES[form])
    nora.refresh_from_db()
    assert nora.balance == Decimal("-120.00")  # the dues owed again, not the charges
    money_out = Payment.objects.filter(amount__lt=0).order_by("amount")
    assert [(p.amount, p.member_id, p.purpose) for p in money_out] == [
        (Decimal("-120.00"), nora.pk, "dues"),
        (Decimal("-3.50"), None, "other"),
    ]
    assert not Charge.objects.filter(kind="return_fee").exists()


def test_the_finance_order_may_pass_the_charges_on_to_the_member(tree, rules, settings):
    settings.MUSTERROLLE_SEPA_RETURN_FEES_TO_MEMBER = True
    nora = member_with_mandate(tree.leipzig)
    collect()
    returned_with_fees(Debit.objects.get(member=nora), FEES["charges"])
    nora.refresh_from_db()
    assert nora.balance == Decimal("-123.50")
    fee = Charge.objects.get(kind="return_fee")
    assert (fee.member_id, fee.amount, fee.due_on) == (nora.pk, Decimal("3.50"), date(2026, 3, 10))
    # The charges are owed, not dues: the dues run finds the year's dues unchanged.
    with at(date(2026, 3, 11)):
        assert services.run_dues(year=2026).unchanged == 1
    assert Charge.objects.filter(member=nora).count() == 2


def test_charges_larger_than_the_return_refuse_the_file(tree, rules):
    from finance.models import BankStatement, Payment

    nora = member_with_mandate(tree.leipzig)
    collect()
    debit = Debit.objects.get(member=nora)
    with pytest.raises(StatementError, match=r"200\.00"):
        returned_with_fees(debit, '<Chrgs><Amt Ccy="EUR">200.00</Amt></Chrgs>')
    assert not Payment.objects.exists() and not BankStatement.objects.exists()


def test_a_collection_that_fails_unexpectedly_stops_the_progress_page(
    tree, rules, federal_admin, client, monkeypatch, django_capture_on_commit_callbacks
):
    member_with_mandate(tree.leipzig)

    def broken(**kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr(sepa, "create", broken)
    client.force_login(federal_admin)
    with at(TODAY), django_capture_on_commit_callbacks() as queued:
        started = client.post(
            "/admin/finance/collection/new/", {"due_on": DUE.isoformat(), "create": "1"}
        )
    with pytest.raises(RuntimeError):
        queued[0]()
    with at(TODAY):
        page = client.get(started.url).content.decode()
    assert "mit einem Fehler abgebrochen" in page and 'http-equiv="refresh"' not in page


def test_a_member_gone_from_monthly_to_yearly_is_collected_the_months_left(tree, rules):
    nora = admit(tree.leipzig, date(2026, 1, 5))
    book(entry("120.00", ref="B-1", reference=f"MB2026 {nora.membership_number}"))
    with at(TODAY):
        sepa.record_mandate(
            member=nora, iban=IBAN, holder="Nora Neu", signed_on=TODAY, by=None, monthly=True
        )
    with at(date(2026, 12, 1)):
        services.run_dues(year=2027)
    with at(date(2026, 12, 15)):
        sepa.create(due_on=date(2027, 1, 4))  # January's instalment, monthly
    with at(date(2027, 1, 2)):
        tasks.follow_payment_calendar()
        sepa.record_mandate(
            member=nora, iban=IBAN, holder="Nora Neu", signed_on=date(2027, 1, 2), by=None
        )
        tasks.follow_payment_calendar()
    for night in (date(2027, 2, 2), date(2027, 3, 2)):
        with at(night):
            tasks.follow_payment_calendar()  # the nightly job: an instalment fell due
    with at(date(2027, 3, 10)):
        result = sepa.plan(due_on=date(2027, 3, 25))
    # Yearly now: January's 10 € are on their way, February's and March's are owed.
    assert [(d.amount, d.month) for d in result.debits] == [(Decimal("20.00"), 0)], result.skipped
