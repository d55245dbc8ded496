"""Monthly statements: exact content, one per state and month, one e-mail per recipient."""

import io
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from finance import payments, services, statements
from finance.models import FeeRule, MonthlyStatement
from members import services as members
from members.models import EndReason
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def october(tree, board_sn, treasurer_sn):
    """Sachsen in October 2026: an entry, an exit, a payment, arrears, and a change."""
    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    with time_machine.travel(datetime(2026, 1, 2, 9, tzinfo=BERLIN)):  # due on 1 March
        anna = make_member(
            tree.leipzig, first_name="Anna", last_name="Alt", joined_on=date(2020, 1, 1)
        )
        bert = make_member(
            tree.leipzig, first_name="Bert", last_name="Brandt", joined_on=date(2020, 1, 1)
        )
        cora = make_member(
            tree.dresden, first_name="Cora", last_name="Conrad", joined_on=date(2020, 1, 1)
        )
    with time_machine.travel(datetime(2026, 10, 20, 12, tzinfo=BERLIN)):
        payments.recompute_all()  # as every night since
        make_member(tree.leipzig, first_name="Nina", last_name="Neu", joined_on=date(2026, 10, 5))
        members.end_membership(by=None, member=cora, on=date(2026, 10, 15), reason=EndReason.EXIT)
        make_member(
            tree.kiel, first_name="Kai", last_name="Kieler", joined_on=date(2026, 10, 1)
        )  # other state
        services.run_dues(year=2026)
        payments.record_payment(
            member=anna,
            amount=Decimal("120.00"),
            booked_on=date(2026, 10, 2),
            method="transfer",
            by=None,
        )
    return anna, bert


def test_the_statement_has_exactly_the_months_figures(tree, october):
    with time_machine.travel(datetime(2026, 11, 1, 6, tzinfo=BERLIN)):
        statement = statements.prepare(tree.sn, date(2026, 10, 1))
    f = statement.figures
    assert (f["members_at_start"], f["members_at_end"]) == (3, 3)
    assert f["entries"] == [{"number": f["entries"][0]["number"], "name": "Nina Neu"}]
    assert [p["name"] for p in f["exits"]] == ["Cora Conrad"]
    assert (f["payments_count"], f["payments_total"]) == (1, "120.00")
    # Arrears begin when the rule's grace period (30 days) has passed: Nina, who joined on
    # 5 October, owes her first dues but is not in arrears before 4 November.
    assert [(p["name"], p["since"], p["amount"]) for p in f["arrears"]] == [
        ("Bert Brandt", "2026-03-31", "120.00"),
    ]
    assert f["newly_in_arrears"] == []
    sheet = load_workbook(io.BytesIO(bytes(statement.workbook))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("Mitgliedsnummer", "Vorname", "Nachname")
    assert [(r[2], r[5]) for r in rows[1:]] == [
        ("Alt", "bezahlt"),
        ("Brandt", "im Rückstand"),
        ("Neu", "fällig (Zahlungsfrist)"),
    ]


def test_all_states_at_once_give_each_state_the_figures_it_gets_alone(tree, october):
    with time_machine.travel(datetime(2026, 1, 2, 9, tzinfo=BERLIN)):  # due on 1 March
        kai = make_member(tree.kiel, first_name="Kai", last_name="Kiel", joined_on=date(2020, 1, 1))
        services.run_dues(year=2026)
    with time_machine.travel(datetime(2026, 11, 1, 6, tzinfo=BERLIN)):
        alone = {
            state: statements.figures(state, date(2026, 10, 1)) for state in (tree.sn, tree.sh)
        }
        together = {s.division: s.figures for s in statements.prepare_all(date(2026, 10, 1))}
    assert together == alone
    assert [p["name"] for p in together[tree.sh]["arrears"]] == [f"Kai {kai.last_name}"]
    assert [p["name"] for p in together[tree.sn]["arrears"]] == ["Bert Brandt"]
    assert together[tree.sn]["arrears_total"] == "120.00"


def test_triggered_twice_each_recipient_gets_one_email(
    tree, october, board_sn, treasurer_sn, mailoutbox, django_capture_on_commit_callbacks
):
    make_user(
        "ehemals@example.org", tree.dresden, "board"
    )  # a district board gets no state statement
    with django_capture_on_commit_callbacks(execute=True):
        call_command("send_statements", "--period", "2026-10")
        call_command("send_statements", "--period", "2026-10")
    sachsen = [m for m in mailoutbox if "Sachsen" in m.subject]
    assert sorted(m.to[0] for m in sachsen) == sorted([board_sn.email, treasurer_sn.email])
    assert len(sachsen) == 2
    mail = sachsen[0]
    assert mail.subject == "Kontoauszug Oktober 2026: Landesverband Sachsen"
    assert "Nina Neu" in mail.body and "<" not in mail.body
    assert mail.attachments[0][0] == "kontoauszug-SN-2026-10.xlsx"
    assert MonthlyStatement.objects.filter(division=tree.sn, period=date(2026, 10, 1)).count() == 1


def test_a_dry_run_sends_nothing(tree, october, mailoutbox, capsys):
    call_command("send_statements", "--period", "2026-10", "--division", "SN", "--dry-run")
    assert "SN 2026-10: would go to 2" in capsys.readouterr().out
    assert not MonthlyStatement.objects.exists()
    assert mailoutbox == []


def test_the_treasurer_reads_and_downloads_the_statement(client, tree, october, treasurer_sn):
    statement = statements.prepare(tree.sn, date(2026, 10, 1))
    client.force_login(treasurer_sn)
    assert statement.division.name in client.get(reverse("finance:statement_list")).text
    assert "Nina Neu" in client.get(reverse("finance:statement_detail", args=[statement.pk])).text
    response = client.get(reverse("finance:statement_download", args=[statement.pk]))
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")


def test_the_federal_office_resends_from_the_admin(
    client, tree, october, federal_admin, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        statement = statements.prepare(tree.sn, date(2026, 10, 1))
        statements.send(statement)
        client.force_login(federal_admin)
        client.post(
            reverse("admin:finance_monthlystatement_changelist"),
            {"action": "send_again", "_selected_action": [statement.pk]},
        )
    assert len(mailoutbox) == 4  # two recipients, twice: the second time on purpose


def test_the_statements_menu_is_only_for_those_who_can_receive_one(
    client, tree, board_sn, treasurer_sn, board_leipzig, federal_admin
):
    """Statements are made per state association: a district board would find the page
    always empty, so the menu leaves it out; a state's board and treasurer and the federal
    office see it."""
    entry = f'<a class="nav-link" href="{reverse("finance:statement_list")}">Kontoauszüge</a>'
    federal_board = make_user("vorstand-bund@example.org", tree.bund, "board")
    local_treasurer = make_user("schatz-ov@example.org", tree.leipzig_sued, "treasurer")
    shown = {}
    for user in [
        board_sn,
        treasurer_sn,
        federal_board,
        federal_admin,
        board_leipzig,
        local_treasurer,
    ]:
        client.force_login(user)
        shown[user.email] = entry in client.get(reverse("members:request_list")).text
    assert shown == {
        "vorstand-sn@example.org": True,
        "schatz-sn@example.org": True,
        "vorstand-bund@example.org": True,
        "bund@example.org": True,
        "kv-leipzig@example.org": False,
        "schatz-ov@example.org": False,
    }


def test_the_mail_attachment_and_the_download_carry_the_same_file_name(
    client, tree, october, treasurer_sn, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        statement = statements.prepare(tree.sn, date(2026, 10, 1))
        statements.send(statement)
    assert {m.attachments[0][0] for m in mailoutbox} == {"kontoauszug-SN-2026-10.xlsx"}
    client.force_login(treasurer_sn)
    response = client.get(reverse("finance:statement_download", args=[statement.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="kontoauszug-SN-2026-10.xlsx"'
