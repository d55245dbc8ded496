"""Edges of real sheets that once crashed the check or were guessed (found in review)."""

from datetime import date

import pytest
from django.urls import reverse

from members import imports
from members.import_values import FeeVocabulary
from tests.factories import make_fee_rules, make_member
from tests.members.sheets import workbook_bytes

pytestmark = pytest.mark.django_db


def check(by, division, content, name="a.csv"):
    batch = imports.create_batch(by=by, division=division, content=content, filename=name)
    return imports.check_batch(batch_id=batch.pk)


@pytest.fixture
def rules(db):
    make_fee_rules(tiers="72,120,180", classes=("regular", "reduced"))


def test_a_formula_in_the_name_beside_an_e_mail_is_a_row_error_not_a_crash(tree, board_sn):
    content = workbook_bytes([[None, "Anna", "=A1&B1", None, None, None, "anna@example.org"]])
    batch = check(board_sn, tree.sn, content, "a.xlsx")
    assert batch.status == "checked" and batch.errors == 1


def test_a_bare_amount_that_fits_only_as_a_monthly_one_is_asked(tree, rules):
    vocabulary = FeeVocabulary(date(2026, 1, 1))
    assert vocabulary.match("6,00").choice is None  # 72 € a year? or a hardship fee of 6?
    assert vocabulary.match("6,00").candidates == ["regular:72.00"]
    assert vocabulary.match("6 € mtl.").choice == "regular:72.00"  # said so: monthly


def test_a_division_of_another_kind_than_the_sheet_names_is_asked(tree, board_sn):
    content = b"Vorname;Nachname;KV\nAnna;Alt;OV Dresden\n"
    batch = check(board_sn, tree.sn, content)
    item = batch.findings["values"]["division"][0]
    assert (item["choice"], [c["value"] for c in item["candidates"]]) == (
        "",
        [str(tree.dresden.pk)],
    )


def test_a_surname_that_begins_like_a_total_is_a_member(tree, board_sn):
    content = b'Name;PLZ\n"Stand, Anna";04109\n'
    batch = check(board_sn, tree.sn, content)
    assert [r["status"] for r in batch.report] == ["new"]


def test_the_federal_office_learns_a_number_belongs_to_another_division(tree, federal_admin):
    kiel = make_member(tree.kiel, first_name="Kai", last_name="Kiel")
    content = f"Mitgliedsnummer;Vorname;Nachname\n{kiel.membership_number};Kai;Kiel\n".encode()
    batch = check(federal_admin, tree.sn, content)
    assert "gehört zu einem Mitglied einer anderen Gliederung" in batch.report[0]["errors"][0]


def test_a_search_for_a_page_far_beyond_the_end_shows_the_last(client, tree, board_sn):
    make_member(tree.leipzig, last_name="Weit")
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    response = client.get(url, {"q": "weit", "page": "99999999999999999999"})
    assert response.status_code == 200
    assert [m.last_name for m in response.context["page_obj"]] == ["Weit"]
