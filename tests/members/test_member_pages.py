"""The board's member list, member page and dashboard, scoped and at constant query cost."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members import services
from members.models import EndReason
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def names(response):
    return [m.last_name for m in response.context["page_obj"]]


def test_member_list_hides_other_states(client, tree, board_sn):
    mine = make_member(tree.leipzig, last_name="Sächsin")
    make_member(tree.kiel, last_name="Holsteiner")  # would leak if unscoped
    client.force_login(board_sn)
    response = client.get(reverse("members:member_list", args=[tree.sn.pk]))
    assert list(response.context["page_obj"]) == [mine]


def test_htmx_partial_of_a_foreign_member_list_is_404(client, tree, board_sn):
    client.force_login(board_sn)
    response = client.get(
        reverse("members:member_list", args=[tree.sh.pk]), headers={"HX-Request": "true"}
    )
    assert response.status_code == 404


def test_member_list_searches_name_number_email_postal_code_and_city(client, tree, board_sn):
    anna = make_member(
        tree.leipzig,
        first_name="Anna",
        last_name="Weiß",
        email="anna@example.org",
        postal_code="04277",
        city="Leipzig",
    )
    make_member(
        tree.dresden,
        first_name="Bert",
        last_name="Brandt",
        email="bert@example.org",
        postal_code="01067",
        city="Dresden",
    )
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    for query in [
        "weiß",
        "Weiß",
        str(anna.membership_number),
        "anna@example",
        "04277",
        "leipzig",
        "anna weiß",
    ]:
        assert names(client.get(url, {"q": query})) == ["Weiß"], query


def test_member_list_filters_and_sorts(client, tree, board_sn):
    make_member(tree.leipzig, last_name="Adler", fee_class="reduced", joined_on=date(2022, 1, 1))
    make_member(tree.dresden, last_name="Zander", joined_on=date(2021, 1, 1))
    gone = make_member(tree.leipzig_sued, last_name="Müller", joined_on=date(2020, 1, 1))
    services.end_membership(by=None, member=gone, on=date(2024, 1, 1), reason=EndReason.EXIT)
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    assert names(client.get(url)) == ["Adler", "Zander"]
    assert names(client.get(url, {"status": "ended"})) == ["Müller"]
    assert names(client.get(url, {"status": "all", "division": tree.leipzig.pk})) == [
        "Adler",
        "Müller",
    ]
    assert names(client.get(url, {"fee_class": "reduced"})) == ["Adler"]
    assert names(client.get(url, {"sort": "-name"})) == ["Zander", "Adler"]
    assert names(client.get(url, {"sort": "joined", "status": "all"})) == [
        "Müller",
        "Zander",
        "Adler",
    ]


def test_member_list_answers_htmx_with_the_results_only(client, tree, board_sn):
    make_member(tree.leipzig, last_name="Adler")
    client.force_login(board_sn)
    response = client.get(
        reverse("members:member_list", args=[tree.sn.pk]),
        {"q": "adl"},
        headers={"HX-Request": "true"},
    )
    assert response.templates[0].name == "members/_member_results.html"
    assert "<html" not in response.text
    assert "Adler" in response.text


def test_member_list_has_a_helpful_empty_state(client, tree, board_sn):
    client.force_login(board_sn)
    response = client.get(reverse("members:member_list", args=[tree.sn.pk]), {"q": "niemand"})
    assert "Kein Mitglied passt zu diesen Filtern." in response.text


def test_member_page_shows_record_history_and_requests(client, tree, board_sn):
    member = make_member(tree.leipzig, street="Alt 1")
    services.update_member(by=board_sn, member=member, changes={"street": "Neu 2"}, reason="Umzug")
    services.transfer_member(by=None, member=member, to=tree.dresden, on=date(2024, 1, 1))
    services.submit_change_request(
        by=board_sn, kind="fee_class", member=member, values={"fee_class": "reduced"}
    )
    client.force_login(board_sn)
    text = client.get(reverse("members:member_detail", args=[member.pk])).text
    assert "Straße und Hausnummer: Alt 1 → Neu 2" in text
    assert "Gliederung: Kreisverband Leipzig → Kreisverband Dresden" in text
    assert "Umzug" in text
    assert "Änderung der Beitragsklasse" in text


def count_queries(client, url: str, **params) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("page", ["list", "search", "detail", "dashboard"])
def test_query_count_does_not_grow_with_members(client, tree, board_sn, page):
    first = make_member(tree.leipzig, last_name="Erste")
    services.transfer_member(by=None, member=first, to=tree.dresden, on=date(2025, 6, 1))
    client.force_login(board_sn)
    url = {
        "list": reverse("members:member_list", args=[tree.sn.pk]),
        "search": reverse("members:member_list", args=[tree.sn.pk]) + "?q=e",
        "detail": reverse("members:member_detail", args=[first.pk]),
        "dashboard": reverse("members:division_detail", args=[tree.sn.pk]),
    }[page]
    one = count_queries(client, url)
    for i in range(30):
        member = make_member(
            [tree.leipzig, tree.dresden, tree.leipzig_sued][i % 3],
            joined_on=date(2025, 1 + i % 12, 1),
        )
        if i % 5 == 0:
            services.end_membership(
                by=None, member=member, on=date(2026, 1, 1), reason=EndReason.EXIT
            )
    for i in range(10):
        services.update_member(by=None, member=first, changes={"phone": f"0341 {i}"})
    services.transfer_member(by=None, member=first, to=tree.leipzig, on=date(2025, 9, 1))
    assert count_queries(client, url) == one
