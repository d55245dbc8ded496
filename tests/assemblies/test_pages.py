"""The boards' assembly pages: create, freeze, the lists, the export."""

import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from assemblies.models import Assembly, Entry
from finance.models import Charge
from members import services
from members.models import ExportLog
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def _form(division, **more):
    starts = timezone.localtime() + timedelta(days=100)
    return {
        "division": division.pk,
        "kind": "convention",
        "title": "Landesparteitag 2027",
        "starts_at": starts.strftime("%Y-%m-%dT%H:%M"),
        "place": "Messe Leipzig",
        "cutoff_on": (starts.date() - timedelta(days=14)).isoformat(),
        "agenda": "1. Eröffnung\n2. Wahlen",
        **more,
    }


def _member(division, **values):
    member = make_member(division, **values)
    services.activate_members([member.pk], reason="first dues", on=date(2020, 1, 1))
    return member


def test_board_creates_a_convention_of_its_state_and_not_of_another(client, tree, board_sn):
    client.force_login(board_sn)
    response = client.post(reverse("assemblies:assembly_new"), _form(tree.sh))
    assert response.status_code == 200  # the other state is not among the choices
    assert not Assembly.objects.exists()
    response = client.post(reverse("assemblies:assembly_new"), _form(tree.sn))
    assembly = Assembly.objects.get()
    assert response.url == reverse("assemblies:assembly_detail", args=[assembly.pk])
    assert assembly.division == tree.sn and assembly.created_by == board_sn
    assert assembly.invitation_deadline == timezone.localtime(
        assembly.starts_at
    ).date() - timedelta(days=56)


def test_the_cutoff_may_not_follow_the_assembly(client, tree, board_sn):
    client.force_login(board_sn)
    form = _form(tree.sn)
    form["cutoff_on"] = (date.fromisoformat(form["starts_at"][:10]) + timedelta(days=1)).isoformat()
    response = client.post(reverse("assemblies:assembly_new"), form)
    assert response.status_code == 200 and "cutoff_on" in response.context["form"].errors
    assert not Assembly.objects.exists()


def test_a_missed_invitation_deadline_is_shown(client, tree, board_sn):
    client.force_login(board_sn)
    form = _form(tree.sn)
    soon = timezone.localtime() + timedelta(days=20)
    form["starts_at"] = soon.strftime("%Y-%m-%dT%H:%M")
    form["cutoff_on"] = timezone.localdate().isoformat()
    client.post(reverse("assemblies:assembly_new"), form)
    page = client.get(reverse("assemblies:assembly_detail", args=[Assembly.objects.get().pk]))
    assert page.context["deadline_missed"] is True
    assert 'class="alert alert-danger"' in page.text


def test_lists_show_eligible_and_why_not(client, tree, board_sn, django_assert_max_num_queries):
    eligible = [_member(tree.leipzig) for _ in range(3)]
    owing = _member(tree.dresden, last_name="Schuldig")
    Charge.objects.create(
        member=owing,
        year=2026,
        amount=Decimal("120.00"),
        due_on=date(2026, 3, 1),
        overdue_on=date(2026, 3, 31),
    )
    client.force_login(board_sn)
    client.post(reverse("assemblies:assembly_new"), _form(tree.sn))
    assembly = Assembly.objects.get()
    response = client.post(reverse("assemblies:assembly_freeze", args=[assembly.pk]))
    assert response.status_code == 302
    assert Entry.objects.filter(assembly=assembly).count() == 4

    detail = client.get(reverse("assemblies:assembly_detail", args=[assembly.pk]))
    assert (detail.context["counts"].eligible, detail.context["counts"].not_eligible) == (3, 1)
    url = reverse("assemblies:assembly_entries", args=[assembly.pk])
    with django_assert_max_num_queries(12):
        page = client.get(url, {"show": "eligible"})
    assert {e.member_id for e in page.context["page_obj"]} == {m.pk for m in eligible}
    not_eligible = client.get(url, {"show": "not"})
    assert [e.member_id for e in not_eligible.context["page_obj"]] == [owing.pk]
    assert "120,00" in not_eligible.text and "31.03.2026" in not_eligible.text
    only_dresden = client.get(url, {"show": "eligible", "division": tree.dresden.pk})
    assert list(only_dresden.context["page_obj"]) == []
    by_number = client.get(url, {"show": "eligible", "q": str(eligible[1].membership_number)})
    assert [e.member_id for e in by_number.context["page_obj"]] == [eligible[1].pk]


def test_export_is_the_frozen_list_and_logged(client, tree, board_sn):
    members = [_member(tree.leipzig) for _ in range(2)]
    client.force_login(board_sn)
    client.post(reverse("assemblies:assembly_new"), _form(tree.sn))
    assembly = Assembly.objects.get()
    client.post(reverse("assemblies:assembly_freeze", args=[assembly.pk]))
    response = client.get(reverse("assemblies:assembly_export", args=[assembly.pk]))
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3
    assert sorted(r[0] for r in rows[1:]) == sorted(m.membership_number for m in members)
    log = ExportLog.objects.get()
    assert (log.rows, log.exported_by, log.division) == (2, board_sn, tree.sn)


def test_assembly_list_shows_only_the_own_subtree(client, tree, board_sn, board_sh, board_leipzig):
    client.force_login(board_sn)
    client.post(reverse("assemblies:assembly_new"), _form(tree.sn))
    client.post(reverse("assemblies:assembly_new"), _form(tree.leipzig, title="KMV Leipzig"))
    client.force_login(board_sh)
    assert list(client.get(reverse("assemblies:assembly_list")).context["page_obj"]) == []
    client.force_login(board_leipzig)
    titles = [a.title for a in client.get(reverse("assemblies:assembly_list")).context["page_obj"]]
    assert titles == ["KMV Leipzig"]


def test_delegate_seats_for_the_districts_step_by_step(client, tree, board_sn):
    for division, n in [(tree.leipzig, 3), (tree.leipzig_sued, 2), (tree.dresden, 2)]:
        for _ in range(n):
            _member(division)
    _member(tree.sn)  # the state itself: in no district
    client.force_login(board_sn)
    client.post(reverse("assemblies:assembly_new"), _form(tree.sn, kind="delegates"))
    assembly = Assembly.objects.get()
    url = reverse("assemblies:assembly_seats", args=[assembly.pk])
    page = client.get(url, {"seats": 5, "method": "dhondt"})
    # Leipzig 5 (with its chapter), Dresden 2: quotients 5, 2.5, 2, 1.67, 1.25.
    rows = page.context["result"].rows()
    assert rows == [("Kreisverband Dresden", 2, 1), ("Kreisverband Leipzig", 5, 4)]
    assert page.context["own"] == 1
    assert [s.name for s in page.context["result"].steps][:3] == [
        "Kreisverband Leipzig",
        "Kreisverband Leipzig",
        "Kreisverband Dresden",
    ]
    minimum = client.get(url, {"seats": 1, "method": "sainte_lague", "minimum": "on"})
    assert "seats" in minimum.context["form"].errors
    workbook = client.get(url, {"seats": 5, "method": "dhondt", "format": "xlsx"})
    book = load_workbook(io.BytesIO(b"".join(workbook.streaming_content)))
    assert [r for r in book.worksheets[0].iter_rows(min_row=3, values_only=True)] == [
        ("Kreisverband Dresden", 2, 1),
        ("Kreisverband Leipzig", 5, 4),
    ]
    assert book.worksheets[1].max_row == 6


def test_the_list_prints_with_names_and_reasons(client, tree, board_sn, settings):
    from tests.finance.test_receipts import pages, pdf_text

    settings.LANGUAGE_CODE = "en"
    voters = [_member(tree.leipzig, last_name=f"Wähler{i:03}") for i in range(50)]
    owing = _member(tree.dresden, last_name="Schuldig")
    Charge.objects.create(
        member=owing,
        year=2026,
        amount=Decimal("120.00"),
        due_on=date(2026, 3, 1),
        overdue_on=date(2026, 3, 31),
    )
    client.force_login(board_sn)
    client.post(reverse("assemblies:assembly_new"), _form(tree.sn))
    assembly = Assembly.objects.get()
    client.post(reverse("assemblies:assembly_freeze", args=[assembly.pk]))
    url = reverse("assemblies:assembly_print", args=[assembly.pk])
    eligible = client.get(url, {"show": "eligible"})
    assert eligible["Content-Type"] == "application/pdf" and pages(eligible.content) == 2
    text = pdf_text(eligible.content)
    assert f"{voters[0].last_name}, {voters[0].first_name}" in text and "Schuldig" not in text
    not_eligible = pdf_text(client.get(url, {"show": "not"}).content)
    assert "Schuldig" in not_eligible and "arrears of 120.00 € since" in not_eligible
    assert ExportLog.objects.filter(file_format="pdf").count() == 2


def test_a_long_list_prints_in_parts_that_number_their_pages_on(
    client, tree, board_sn, monkeypatch
):
    from assemblies import printing
    from tests.finance.test_receipts import pages, pdf_text

    monkeypatch.setattr(printing, "ROWS", 4)
    monkeypatch.setattr(printing, "PART_ROWS", 8)  # two pages a part
    members = sorted(
        (_member(tree.leipzig, last_name=f"Teil{i:02}") for i in range(19)),
        key=lambda m: m.last_name,
    )
    client.force_login(board_sn)
    client.post(reverse("assemblies:assembly_new"), _form(tree.sn))
    assembly = Assembly.objects.get()
    client.post(reverse("assemblies:assembly_freeze", args=[assembly.pk]))
    entries = client.get(reverse("assemblies:assembly_entries", args=[assembly.pk]))
    assert list(entries.context["print_parts"]) == [1, 2, 3]
    url = reverse("assemblies:assembly_print", args=[assembly.pk])
    second = client.get(url, {"show": "eligible", "part": 2})
    assert pages(second.content) == 2
    text = pdf_text(second.content)
    assert members[8].last_name in text and members[7].last_name not in text
    assert "Seite 3" in text and "Seite 4" in text and "Seite 1" not in text
    last = pdf_text(client.get(url, {"show": "eligible", "part": 9}).content)
    assert members[18].last_name in last and members[15].last_name not in last


def test_a_frozen_list_keeps_its_cutoff(client, tree, board_sn):
    client.force_login(board_sn)
    client.post(reverse("assemblies:assembly_new"), _form(tree.sn))
    assembly = Assembly.objects.get()
    client.post(reverse("assemblies:assembly_freeze", args=[assembly.pk]))
    form = _form(tree.sn)
    form["cutoff_on"] = (date.fromisoformat(form["cutoff_on"]) - timedelta(days=7)).isoformat()
    response = client.post(reverse("assemblies:assembly_edit", args=[assembly.pk]), form)
    assert response.status_code == 200 and response.context["form"].non_field_errors()
    assembly.refresh_from_db()
    assert assembly.cutoff_on == date.fromisoformat(_form(tree.sn)["cutoff_on"])
    form = _form(tree.sn, place="Kongresshalle")
    response = client.post(reverse("assemblies:assembly_edit", args=[assembly.pk]), form)
    assert response.status_code == 302
    assembly.refresh_from_db()
    assert assembly.place == "Kongresshalle"
