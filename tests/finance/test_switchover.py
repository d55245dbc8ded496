"""The federal switch-over: the old system's export comes in once, dry run first, all or
nothing, numbers kept, history kept, opening balances in the ledger, nothing sent, applying
twice changes nothing."""

import json
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from django.core.management import CommandError, call_command

from finance import services as dues
from finance.models import Charge, OpeningBalance, Payment, Switchover
from finance.simulation_checks import Checker
from members.models import DivisionLevel, Member, NumberSequence
from outbox.models import OutboundEmail
from tests.factories import add, make_fee_rules

pytestmark = pytest.mark.django_db

CUTOVER = date(2026, 6, 30)
HEADER = (
    "MitglNr;Nachname;Vorname;Straße;PLZ;Ort;E-Mail;GebDatum;LV;KV;Eintritt;Status;Austritt;"
    "Jahresbeitrag;IBAN;Saldo"
)
ROWS = [
    "200001;Alt;Anna;Ring 1;04109;Leipzig;anna@example.org;01.02.1960;SN;KV Leipzig;01.03.2015;"
    "aktiv;;120,00;DE02120300000000202051;0,00",
    "200002;Bau;Bert;Weg 2;01067;Dresden;;02.03.1970;SN;KV Dresden;15.05.2019;aktiv;;72,00;;-144,00",
    "200003;Cor;Carl;Gasse 3;04109;Leipzig;;03.04.1950;SN;KV Leipzig;01.01.2010;ausgetreten;"
    "31.12.2020;120,00;;0",
    "200004;Dorn;Dora;Förde 4;24103;Kiel;;04.05.1940;SH;Kiel;01.01.2000;verstorben;05.05.2022;"
    "120,00;;-36,00",
    "200005;Eck;Emil;Förde 5;24103;Kiel;emil@example.org;05.06.1990;SH;KV Kiel;01.02.2021;aktiv;;"
    "36,00;;12,50",
    "200010;Falk;Frida;Ring 6;04109;Leipzig;frida@example.org;06.07.1995;SN;KV Leipzig;02.01.2026;"
    "neu;;120,00;;-120,00",
    "Summe;;;;;;;;;;;;;;;-287,50",
]


def export(rows=ROWS) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode("cp1252")


@pytest.fixture
def rules(db):
    make_fee_rules(
        tiers="72,120,180,240",
        classes=("regular", "reduced", "exempt"),
        valid_from=date(2000, 1, 1),
    )


@pytest.fixture
def file(tmp_path):
    def write(content=None, name="altsystem.csv"):
        path = tmp_path / name
        path.write_bytes(content if content is not None else export())
        return path

    return write


@pytest.fixture
def today():
    with time_machine.travel(date(2026, 7, 1), tick=False):
        yield date(2026, 7, 1)


def run(*args, capsys):
    """The command's exit status and what it printed (its error message last)."""
    message = ""
    try:
        call_command("switchover", *args)
        code = 0
    except CommandError as error:
        code, message = error.returncode, str(error)
    return code, capsys.readouterr().out + message


def test_a_dry_run_reports_and_changes_nothing(tree, rules, file, today, capsys):
    code, out = run(str(file()), "--on", CUTOVER.isoformat(), capsys=capsys)
    assert code == 2  # nothing applied (a dry run), ready to apply
    assert "to bring in: 6  already in the register: 0  refused: 0  ignored: 1" in out
    assert "SN       active: 2  ended: 1  pending: 1" in out
    assert "SH       active: 1  ended: 1" in out
    assert "Opening balances: owed 300.00 € by 3 members, credit 12.50 € of 1" in out
    assert "IBAN                           -> IBAN" in out
    assert "column not imported" not in out
    assert Member.objects.count() == 0 and Charge.objects.count() == 0


def test_applying_brings_the_register_in_with_numbers_history_and_balances(
    tree, rules, file, today, capsys
):
    code, out = run(str(file()), "--on", CUTOVER.isoformat(), "--apply", capsys=capsys)
    assert code == 0, out
    assert "Applied: 6 members brought in." in out
    members = {m.membership_number: m for m in Member.objects.select_related("division")}
    assert set(members) == {200001, 200002, 200003, 200004, 200005, 200010}
    assert (members[200001].status, members[200001].division.code) == ("active", "SN-L")
    assert (members[200003].status, members[200003].end_reason, members[200003].left_on) == (
        "ended",
        "exit",
        date(2020, 12, 31),
    )
    assert (members[200004].end_reason, members[200004].division.code) == ("death", "SH-KI")
    assert (members[200005].fee_class, members[200010].status) == ("reduced", "pending")
    assert NumberSequence.objects.get(name="membership").last_value == 200010
    # The balances as the previous system had them; this year's dues (due 1 March) with them.
    assert {m.membership_number: m.balance for m in Member.objects.all()} == {
        200001: Decimal("0.00"),
        200002: Decimal("-144.00"),
        200003: Decimal("0.00"),
        200004: Decimal("-36.00"),
        200005: Decimal("12.50"),
        200010: Decimal("-120.00"),
    }
    assert members[200002].payment_status == "in_arrears"
    assert members[200002].arrears_since == CUTOVER
    assert not Charge.objects.exclude(kind=Charge.Kind.OPENING).exists()
    assert Payment.objects.get().method == Payment.Method.OPENING
    assert OpeningBalance.objects.count() == 6
    assert not OutboundEmail.objects.exists()  # nothing is sent to anyone
    # The catch-up run of this year finds nothing to do; next year's dues are charged.
    assert dues.run_dues(year=2026).charged == 0
    assert dues.run_dues(year=2027).charged == 4  # the members who remain
    # The invariants of the year simulation hold on the imported register.
    checker = Checker()
    checker.start()
    checker.check_states(today, set())
    checker.check_register(today, set())


def test_applying_the_same_file_twice_changes_nothing(tree, rules, file, today, capsys):
    path = str(file())
    assert run(path, "--on", CUTOVER.isoformat(), "--apply", capsys=capsys)[0] == 0
    before = (Member.objects.count(), Charge.objects.count(), Payment.objects.count())
    code, out = run(path, "--on", CUTOVER.isoformat(), "--apply", capsys=capsys)
    assert code == 1
    assert "already in the register: 6" in out
    assert "jedes Mitglied der Datei ist schon im Register" in out
    assert (Member.objects.count(), Charge.objects.count(), Payment.objects.count()) == before


def test_a_refused_row_stops_the_whole_file(tree, rules, file, today, capsys):
    rows = [
        *ROWS,
        "200011;Gut;Gero;Weg 7;0410;Leipzig;;01.01.1980;SN;KV Leipzig;;aktiv;;120,00;"
        "DE02 1203 0000 0000 2020 52;0",
    ]
    path = str(file(export(rows)))
    code, out = run(path, "--on", CUTOVER.isoformat(), "--apply", capsys=capsys)
    assert code == 1
    assert "refused: 1" in out
    assert "row 9 (200011 Gero Gut): Postleitzahl „0410“ hat keine fünf Ziffern" in out
    assert "das Eintrittsdatum fehlt" in out
    assert "„DE02 1203 0000 0000 2020 52“ ist keine IBAN" in out
    assert Member.objects.count() == 0


def test_values_the_file_leaves_open_are_decided_with_a_value_file(
    tree, rules, file, today, capsys, tmp_path
):
    add("Stadtverband Leipzig", "SN-L-SV", DivisionLevel.DISTRICT, tree.sn)
    rows = [row.replace("KV Leipzig", "Leipzig").replace("ausgetreten", "ruhend") for row in ROWS]
    path = str(file(export(rows)))
    code, out = run(path, "--on", CUTOVER.isoformat(), "--apply", capsys=capsys)
    assert code == 1
    assert "value to decide: division “Leipzig” (3 rows), could be: Kreisverband Leipzig" in out
    assert "value to decide: status “ruhend” (1 rows)" in out
    values = tmp_path / "werte.json"
    values.write_text(
        json.dumps({"division": {"Leipzig": "SN-L"}, "status": {"ruhend": "ended:exit"}}),
        encoding="utf-8",
    )
    code, out = run(
        path, "--on", CUTOVER.isoformat(), "--values", str(values), "--apply", capsys=capsys
    )
    assert code == 0, out
    assert Member.objects.filter(division__code="SN-L").count() == 3


def test_the_admin_page_dry_runs_and_applies(
    client, tree, rules, federal_admin, today, django_capture_on_commit_callbacks
):
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    client.force_login(federal_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:finance_switchover_add"),
            {
                "file": SimpleUploadedFile("altsystem.csv", export()),
                "cutover_on": CUTOVER.isoformat(),
                "values": "{}",
            },
            follow=True,
        )
    assert response.status_code == 200
    record = Switchover.objects.get()
    assert record.status == Switchover.Status.CHECKED and record.report["ready"]
    page = client.get(reverse("admin:finance_switchover_change", args=[record.pk]))
    assert "Übernehmen: 6 Mitglieder eintragen" in page.text
    assert "300.00 € (3)" in page.text
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:finance_switchover_apply", args=[record.pk]))
    record.refresh_from_db()
    assert record.status == Switchover.Status.APPLIED
    assert Member.objects.count() == 6
    # A check delivered once more (the broker's retry) leaves the applied switch-over alone.
    from finance import tasks

    tasks.check_switchover(record.pk)
    record.refresh_from_db()
    assert (record.status, record.report["applied"]) == (Switchover.Status.APPLIED, 6)


def test_a_payment_from_an_account_the_previous_system_knew_is_the_members(
    tree, rules, file, today, capsys
):
    from finance import payments
    from tests.finance.statements import entry, statement

    assert run(str(file()), "--on", CUTOVER.isoformat(), "--apply", capsys=capsys)[0] == 0
    assert OpeningBalance.objects.get(member__membership_number=200001).iban == (
        "DE02120300000000202051"
    )
    content = statement(
        entry("120.00", ref="B1", reference="Beitrag", name="A. Alt", iban="DE02120300000000202051")
    )
    payments.import_statement(content=content, filename="konto.xml", by=None)
    payment = Payment.objects.get(bank_reference__startswith="B1")
    assert (payment.member.membership_number, payment.match) == (200001, Payment.Match.IBAN)


def test_rows_an_admission_would_refuse_are_refused(tree, rules, file, today, capsys):
    rows = [
        *ROWS,
        # a former member without a number; an overlong surname with an odd IBAN
        ";Ohne;Otto;Weg 8;04109;Leipzig;;01.01.1950;SN;KV Leipzig;01.01.2000;ausgetreten;"
        "31.12.2010;120,00;;0",
        "200012;" + "L" * 120 + ";Lara;Weg 9;04109;Leipzig;;01.01.1980;SN;KV Leipzig;01.01.2000;"
        "aktiv;;120,00;Überweisung;0",
    ]
    code, out = run(str(file(export(rows))), "--on", CUTOVER.isoformat(), capsys=capsys)
    assert code == 1
    assert "refused: 2" in out
    assert "row 9 (None Otto Ohne): die Mitgliedsnummer fehlt" in out
    assert "Nachname ist länger als 100 Zeichen" in out
    assert "„Überweisung“ ist keine IBAN" in out


MANDATE_HEADER = HEADER + ";Mandatsreferenz;Mandatsdatum;Letzte Lastschrift"


def with_mandates(*extra):
    """The export with mandate columns: Anna pays by direct debit, the others do not."""
    rows = [row + ";;;" for row in ROWS[:-1]]
    rows[0] = ROWS[0] + ";ALT-200001;15.02.2015;01.03.2026"
    return ("\r\n".join([MANDATE_HEADER, *rows, *extra]) + "\r\n").encode("cp1252")


def test_the_switch_over_brings_the_mandates_in(tree, rules, file, today, capsys):
    from finance.models import Mandate

    path = str(file(with_mandates()))
    assert run(path, "--on", CUTOVER.isoformat(), "--apply", capsys=capsys)[0] == 0
    mandate = Mandate.objects.get()
    assert (mandate.member.membership_number, mandate.reference, mandate.iban, mandate.bic) == (
        200001,
        "ALT-200001",
        "DE02120300000000202051",
        "BYLADEM1001",
    )
    assert (mandate.signed_on, mandate.last_collected_on, mandate.holder) == (
        date(2015, 2, 15),
        date(2026, 3, 1),
        "Anna Alt",
    )


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        # A mandate without the account it debits.
        (
            "200020;Gans;Gerd;Ring 7;04109;Leipzig;;07.08.1980;SN;KV Leipzig;01.01.2016;aktiv;;"
            "120,00;;0;ALT-200020;01.01.2016;",
            "ohne die IBAN",
        ),
        # The same reference as another row.
        (
            "200021;Hahn;Hedi;Ring 8;04109;Leipzig;;08.09.1981;SN;KV Leipzig;01.01.2016;aktiv;;"
            "120,00;DE89370400440532013000;0;ALT-200001;01.01.2016;",
            "mehr als einmal",
        ),
        # Signed after the cut-over.
        (
            "200022;Igel;Ida;Ring 9;04109;Leipzig;;09.10.1982;SN;KV Leipzig;01.01.2016;aktiv;;"
            "120,00;DE89370400440532013000;0;ALT-200022;01.08.2026;",
            "nicht möglich",
        ),
    ],
)
def test_a_broken_mandate_refuses_its_row_and_the_whole_file(
    tree, rules, file, today, capsys, row, reason
):
    from finance.models import Mandate

    code, out = run(
        str(file(with_mandates(row))), "--on", CUTOVER.isoformat(), "--apply", capsys=capsys
    )
    assert code == 1
    assert reason in out
    assert (
        not Mandate.objects.exists()
        and not Member.objects.filter(membership_number__gte=200001).exists()
    )
