"""The corpus of real-world sheets (tests/members/corpus.py): every valid row importable after
at most one round of value decisions, every invalid row refused with its reason, every row
of the sheet accounted for."""

from collections import Counter
from datetime import date

import pytest

from members import imports
from members.models import (
    ChangeRequest,
    Division,
    DivisionLevel,
    ImportBatch,
    Member,
    NumberSequence,
)
from tests.factories import add, make_fee_rules, make_member
from tests.members.corpus import CASES, Register

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(tree):
    add("Kreisverband Chemnitz", "SN-C", DivisionLevel.DISTRICT, tree.sn)
    add("Kreisverband Görlitz", "SN-GR", DivisionLevel.DISTRICT, tree.sn)
    add("Stadtverband Leipzig", "SN-L-SV", DivisionLevel.DISTRICT, tree.sn)
    add("Ortsverband Dresden-Neustadt", "SN-DD-N", DivisionLevel.LOCAL, tree.dresden)
    make_fee_rules()  # the amounts of the corpus are read against these
    chemnitz = Division.objects.get(code="SN-C")
    erika = make_member(tree.leipzig, first_name="Erika", last_name="Beispiel", email="")
    otto = make_member(tree.dresden, first_name="Otto", last_name="Normal", email="")
    karla = make_member(
        chemnitz,
        first_name="Karla",
        last_name="Marx",
        street="Brückenstr. 8",
        postal_code="09111",
        city="Chemnitz",
        email="karla@example.org",
        date_of_birth=date(1970, 5, 1),
    )
    paul = make_member(tree.leipzig, first_name="Paul", last_name="Fuchs", email="paul@example.org")
    return Register(
        erika=erika.membership_number,
        otto=otto.membership_number,
        karla=karla.membership_number,
        paul_email=paul.email,
    )


def check(by, division, content, filename, choices=None):
    batch = imports.create_batch(by=by, division=division, content=content, filename=filename)
    if choices:
        ImportBatch.objects.filter(pk=batch.pk).update(choices=choices)
    return imports.check_batch(batch_id=batch.pk)


def counts(batch) -> dict[str, int]:
    found = Counter(row["status"] for row in batch.report)
    return {s: found[s] for s in ("new", "changed", "unchanged", "error", "unknown", "skipped")}


@pytest.mark.parametrize("case", CASES, ids=[case.filename for case in CASES])
def test_each_sheet_of_the_corpus_comes_in_as_expected(
    case, corpus, tree, board_sn, federal_admin, django_capture_on_commit_callbacks
):
    by, division = (federal_admin, tree.bund) if case.federal else (board_sn, tree.sn)
    content = case.build(corpus)
    first = check(by, division, content, case.filename)
    assert first.status == ImportBatch.Status.CHECKED, first.error
    assert first.errors == (case.before_errors if case.decisions else case.after["errors"])
    choices = None
    if case.decisions:
        user = None if case.federal else by
        choices = imports.choices_from_json(case.decisions, division=division, user=user)
    batch = check(by, division, content, case.filename, choices)
    expected = case.after | {"error": case.after["errors"]}
    expected.pop("errors")
    assert counts(batch) == expected, [(r["row"], r["errors"]) for r in batch.report]
    # Every row of the sheet below its header is accounted for, once.
    assert len(batch.report) == batch.total_rows == sum(expected.values())
    rows = {row["row"]: row for row in batch.report}
    for number, values in case.values.items():
        assert {k: rows[number]["values"].get(k) for k in values} == values, number
    for number, error in case.errors.items():
        assert any(error in text for text in rows[number]["errors"]), rows[number]["errors"]
    for number, warning in case.warnings.items():
        assert any(warning in text for text in rows[number]["warnings"]), rows[number]
    assert [c["title"] for c in batch.findings["unmapped"]] == case.unmapped
    if batch.errors:
        return
    before = Member.objects.count(), ChangeRequest.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert imports.start_apply(
            batch=batch, by=by, checked_at=batch.finished_at.isoformat(), propose_unknown=True
        )
    batch.refresh_from_db()
    taken = case.after["new"] + case.after["changed"] + case.after["unknown"]
    if case.federal:
        assert batch.status == ImportBatch.Status.APPLIED
        assert Member.objects.count() == before[0] + case.after["new"] + case.after["unknown"]
    else:
        assert batch.status == ImportBatch.Status.SUBMITTED
        assert ChangeRequest.objects.count() == before[1] + taken


def test_numbers_brought_in_by_the_federal_office_are_kept_and_the_sequence_follows(
    corpus, tree, federal_admin, django_capture_on_commit_callbacks
):
    case = next(c for c in CASES if c.federal)
    choices = imports.choices_from_json(case.decisions, division=tree.bund, user=None)
    batch = check(federal_admin, tree.bund, case.build(corpus), case.filename, choices)
    with django_capture_on_commit_callbacks(execute=True):
        imports.start_apply(
            batch=batch,
            by=federal_admin,
            checked_at=batch.finished_at.isoformat(),
            propose_unknown=True,
        )
    brought = Member.objects.filter(membership_number__in=[500001, 500002, 500003])
    assert {(m.membership_number, m.division.code, m.dues_tier) for m in brought} == {
        (500001, "SN-L", 72),
        (500002, "SN-DD", None),
        (500003, "SH-KI", None),
    }
    assert NumberSequence.objects.get(name="membership").last_value == 500003


def test_rows_not_in_the_register_are_left_out_unless_proposed(
    corpus, tree, board_sn, django_capture_on_commit_callbacks
):
    case = next(c for c in CASES if c.filename == "kv-chemnitz.csv")
    choices = imports.choices_from_json(case.decisions, division=tree.sn, user=board_sn)
    batch = check(board_sn, tree.sn, case.build(corpus), case.filename, choices)
    with django_capture_on_commit_callbacks(execute=True):
        imports.start_apply(batch=batch, by=board_sn, checked_at=batch.finished_at.isoformat())
    entries = ChangeRequest.objects.filter(batch=batch, kind="entry")
    assert sorted(r.proposed["first_name"] for r in entries) == ["Fritz", "Gerda", "Ömer"]


def test_rows_not_in_the_register_proposed_as_entries_are_counted_on_the_page(
    client, corpus, tree, board_sn, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    case = next(c for c in CASES if c.filename == "kv-chemnitz.csv")
    choices = imports.choices_from_json(case.decisions, division=tree.sn, user=board_sn)
    batch = check(board_sn, tree.sn, case.build(corpus), case.filename, choices)
    client.force_login(board_sn)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("members:import_apply", args=[batch.pk]),
            {"checked_at": batch.finished_at.isoformat(), "propose_unknown": "1"},
        )
    entries = ChangeRequest.objects.filter(batch=batch, kind="entry")
    assert "Nummer laut Liste 999999" in entries.get(proposed__first_name="Ute").note
    page = client.get(reverse("members:import_detail", args=[batch.pk]))
    assert "5 Änderungsanträge sind an die Bundesgeschäftsstelle gegangen" in page.text


def test_decided_values_are_remembered_for_the_next_upload_and_can_be_forgotten(
    corpus, tree, board_sn, federal_admin, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from members.models import AuditEntry, ImportValueChoice

    content = b"Vorname;Nachname;KV\nNora;Neu;Leipzig\n"
    first = check(board_sn, tree.sn, content, "a.csv")
    assert first.errors == 1  # Kreisverband or Stadtverband Leipzig?
    with django_capture_on_commit_callbacks(execute=True):
        imports.decide_values(
            batch=first,
            by=board_sn,
            values={"division": {"leipzig": str(tree.leipzig.pk)}},
            dates={},
        )
    first.refresh_from_db()
    assert (first.errors, first.report[0]["values"]["division"]) == (0, "SN-L")
    second = check(board_sn, tree.sn, content, "b.csv")
    item = second.findings["values"]["division"][0]
    assert (second.errors, item["source"]) == (0, "remembered")
    remembered = ImportValueChoice.objects.get()
    client.force_login(federal_admin)
    url = reverse("admin:members_importvaluechoice_delete", args=[remembered.pk])
    client.post(url, {"post": "yes"})
    assert not ImportValueChoice.objects.exists()
    assert AuditEntry.objects.filter(action="import.value_forgotten").count() == 1
    assert check(board_sn, tree.sn, content, "c.csv").errors == 1


def test_a_districts_sheet_naming_its_state_on_every_row_comes_in_without_a_question(corpus, tree):
    from tests.factories import make_user

    board = make_user("kv-leipzig@example.org", tree.leipzig, "board")
    content = b"LV;Vorname;Nachname\nSN;Nora;Neu\nSachsen;Nils;Alt\n"
    batch = check(board, tree.leipzig, content, "kv.csv")
    assert (batch.errors, batch.new) == (0, 2)
    assert [row["values"].get("division") for row in batch.report] == [None, None]
