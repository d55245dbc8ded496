"""The sub-division filter and the transfer form choose a division by searching for it: the
page carries only the chosen one, matches come from the server, within what the user may see."""

import pytest
from django.urls import reverse

from members.models import Division, DivisionLevel
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def choices(client, **params):
    return client.get(reverse("members:division_choices"), params)


def many_chapters(parent, count):
    return [
        Division.objects.add_child(
            parent,
            create_kwargs={
                "name": f"Ortsverband Nummer {i}",
                "code": f"SN-L-X{i}",
                "level": DivisionLevel.LOCAL,
            },
        )
        for i in range(count)
    ]


def test_the_member_list_carries_only_the_chosen_sub_division(client, tree, board_sn):
    many_chapters(tree.leipzig, 30)
    client.force_login(board_sn)
    html = client.get(reverse("members:member_list", args=[tree.sn.pk])).text
    assert "Ortsverband Nummer" not in html
    assert "Kreisverband Dresden" not in html
    html = client.get(
        reverse("members:member_list", args=[tree.sn.pk]), {"division": tree.dresden.pk}
    ).text
    assert f'value="{tree.dresden.pk}" checked' in html
    assert "Ortsverband Nummer" not in html


def test_choosing_a_sub_division_filters_the_list(client, tree, board_sn):
    in_leipzig = make_member(tree.leipzig_sued, last_name="Süd")
    make_member(tree.dresden, last_name="Elbe")
    client.force_login(board_sn)
    response = client.get(
        reverse("members:member_list", args=[tree.sn.pk]), {"division": tree.leipzig.pk}
    )
    assert list(response.context["page_obj"]) == [in_leipzig]


def test_search_finds_sub_divisions_by_name_and_code_within_the_subtree(client, tree, board_sn):
    client.force_login(board_sn)
    response = choices(client, field="division", within=tree.sn.pk, term="leip", all="1")
    assert [d.code for d in response.context["choices"]] == ["SN-L", "SN-L-1"]
    assert 'name="division" id="division-all" value=""' in response.text
    by_code = choices(client, field="division", within=tree.sn.pk, term="sn-dd")
    assert [d.code for d in by_code.context["choices"]] == ["SN-DD"]
    # Kiel lies in Schleswig-Holstein: never offered to the Sachsen board.
    assert (
        choices(client, field="division", within=tree.sn.pk, term="Kiel").context["choices"] == []
    )


def test_search_keeps_the_chosen_division_and_says_when_there_are_more(client, tree, board_sn):
    many_chapters(tree.leipzig, 20)
    client.force_login(board_sn)
    response = choices(
        client, field="division", within=tree.sn.pk, term="Nummer", division=tree.dresden.pk
    )
    found = response.context["choices"]
    assert found[0] == tree.dresden and len(found) == 16
    assert f'value="{tree.dresden.pk}" checked' in response.text
    assert "Weitere Gliederungen passen" in response.text


def test_search_within_a_foreign_division_is_not_found(client, tree, board_sn):
    client.force_login(board_sn)
    assert choices(client, field="division", within=tree.sh.pk, term="Kiel").status_code == 404
    assert choices(client, field="password", term="Kiel").status_code == 404


def test_a_foreign_sub_division_in_the_filter_is_dropped_and_stops_an_export(
    client, tree, board_sn
):
    mine = make_member(tree.leipzig)
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    response = client.get(url, {"division": tree.kiel.pk})
    assert list(response.context["page_obj"]) == [mine]
    assert "Kreisverband Kiel" not in response.text
    export = client.post(
        f"{reverse('members:member_export', args=[tree.sn.pk])}?division={tree.kiel.pk}",
        {"purpose": "Versand", "file_format": "csv"},
    )
    assert export.status_code == 200
    assert export.context["form"].non_field_errors()


def test_the_transfer_form_searches_every_division_but_the_federal_party(client, tree, board_sn):
    member = make_member(tree.leipzig)
    client.force_login(board_sn)
    page = client.get(reverse("members:request_for_member", args=[member.pk, "transfer"]))
    assert page.status_code == 200
    assert "Kreisverband Kiel" not in page.text  # nothing listed until one searches
    response = choices(client, field="target_division", term="verband")
    assert {d.code for d in response.context["choices"]} == {
        "SN",
        "SN-L",
        "SN-L-1",
        "SN-DD",
        "SH",
        "SH-KI",
    }
