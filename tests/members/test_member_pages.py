"""The board's member list, member page and dashboard, scoped and at constant query cost."""

from datetime import date

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from members import services
from members.models import EndReason, Member
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
    services.update_member(by=None, member=member, changes={"street": "Neu 2"}, reason="Umzug")
    services.transfer_member(by=None, member=member, to=tree.dresden, on=date(2024, 1, 1))
    services.submit_change_request(
        by=board_sn,
        kind="fee_class",
        member=member,
        values={"fee_class": "reduced", "reduced_until": date(2027, 3, 31)},
    )
    client.force_login(board_sn)
    text = client.get(reverse("members:member_detail", args=[member.pk])).text
    assert "Straße und Hausnummer: Alt 1 → Neu 2" in text
    assert "Gliederung: Kreisverband Leipzig → Kreisverband Dresden" in text
    assert "Umzug" in text
    assert "Änderung der Beitragsklasse" in text


def count_queries(client, url: str, **params) -> int:
    client.get(url, params)  # settles the session (the second-factor check is made once)
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


def test_sorting_survives_the_next_filter_change(client, tree, board_sn):
    make_member(tree.leipzig, last_name="Adler", city="Zwickau")
    make_member(tree.leipzig, last_name="Zander", city="Aue")
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    response = client.get(url, {"sort": "city"}, headers={"HX-Request": "true"})
    # The partial updates the form's hidden sort field, so the next filter keeps the order.
    assert (
        '<input type="hidden" name="sort" id="id_sort" value="city" hx-swap-oob="true">'
        in response.text
    )
    assert names(client.get(url, {"sort": "city", "q": "", "status": "current"})) == [
        "Zander",
        "Adler",
    ]


def test_back_button_restores_the_whole_page(client, tree, board_sn):
    client.force_login(board_sn)
    response = client.get(
        reverse("members:member_list", args=[tree.sn.pk]),
        {"fee_class": "reduced"},
        headers={"HX-Request": "true", "HX-History-Restore-Request": "true"},
    )
    assert response.templates[0].name == "members/member_list.html"
    assert '<option value="reduced" selected>' in response.text


def test_a_stale_parameter_drops_only_itself(client, tree, board_sn):
    make_member(tree.leipzig, last_name="Braun")
    make_member(tree.leipzig, last_name="Weiß")
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    assert names(client.get(url, {"q": "braun", "fee_class": "zzz", "division": 99999})) == [
        "Braun"
    ]


def test_request_list_pages_keep_the_status(client, tree, board_sn, federal_admin):
    for _ in range(51):
        request = services.submit_change_request(
            by=board_sn,
            kind="fee_class",
            member=make_member(tree.leipzig),
            values={"fee_class": "reduced", "reduced_until": date(2027, 3, 31)},
        )
        services.reject_change_request(request=request, by=federal_admin, reason="Nein")
    client.force_login(board_sn)
    response = client.get(reverse("members:request_list"), {"status": "rejected"})
    assert "?status=rejected&amp;page=2" in response.text


def test_member_page_shows_labels_and_german_dates(client, tree, board_sn):
    member = make_member(tree.leipzig, date_of_birth=date(1980, 5, 4))
    services.update_member(
        by=None,
        member=member,
        changes={
            "fee_class": "reduced",
            "reduced_until": date(2027, 3, 31),
            "date_of_birth": date(1980, 5, 14),
        },
    )
    client.force_login(board_sn)
    text = client.get(reverse("members:member_detail", args=[member.pk])).text
    assert "Beitragsklasse: regulär → ermäßigt" in text
    assert "Geburtsdatum: 04.05.1980 → 14.05.1980" in text


def test_federal_admin_edits_a_member_in_the_admin_through_the_register(
    client, tree, federal_admin
):
    member = make_member(tree.leipzig, phone="")
    client.force_login(federal_admin)
    url = reverse("admin:members_member_change", args=[member.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form.initial.get(name) or "" for name in form.fields}
    data.update(phone="0341 999", newsletter_consent="")
    for prefix in ("periods", "versions"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    member.refresh_from_db()
    assert (member.phone, member.version) == ("0341 999", 2)
    assert member.versions.get(version=2).recorded_by == federal_admin


def test_odd_digits_in_the_search_do_not_break_it(client, tree, board_sn):
    client.force_login(board_sn)
    assert (
        client.get(reverse("members:member_list", args=[tree.sn.pk]), {"q": "²"}).status_code == 200
    )


def test_the_list_counts_from_the_register_figures_for_every_status(client, tree, board_sn):
    make_member(tree.leipzig, last_name="Aktuell")
    make_member(tree.leipzig_sued, last_name="Auch")
    gone = make_member(tree.dresden, last_name="Weg")
    services.end_membership(by=None, member=gone, on=date(2025, 6, 30), reason=EndReason.EXIT)
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    counts = {
        status: client.get(url, {"status": status}).context["page_obj"].paginator.count
        for status in ("current", "pending", "ended", "all")
    }
    assert counts == {"current": 2, "pending": 2, "ended": 1, "all": 3}
    in_leipzig = client.get(url, {"division": tree.leipzig.pk}).context["page_obj"].paginator
    assert in_leipzig.count == 2


def test_a_long_filtered_list_says_more_than_instead_of_counting_all(
    client, tree, board_sn, monkeypatch
):
    from members.views import register

    monkeypatch.setattr(register, "COUNT_LIMIT", 2)
    for first_name in ("Anna", "Berta", "Clara"):
        make_member(tree.leipzig, first_name=first_name, last_name="Schmidt", fee_class="reduced")
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    response = client.get(url, {"fee_class": "reduced"})
    assert [m.first_name for m in response.context["page_obj"]] == ["Anna", "Berta"]
    assert "Mehr als 2 Mitglieder" in response.text
    assert "Seite 1 von" not in response.text


def test_a_search_counts_all_its_matches_and_pages_through_them_in_order(
    client, tree, board_sn, monkeypatch
):
    from members.views import register

    monkeypatch.setattr(register, "PAGE_SIZE", 2)
    for first_name in ("Clara", "Anna", "Emil", "Berta", "Dora"):
        make_member(tree.leipzig, first_name=first_name, last_name="Schmidt")
    make_member(tree.leipzig, first_name="Otto", last_name="Schmied")
    client.force_login(board_sn)
    url = reverse("members:member_list", args=[tree.sn.pk])
    pages = {
        page: client.get(url, {"q": "schmidt", "page": page}).context["page_obj"]
        for page in ("1", "2", "3", "9", "x")
    }
    assert {page: [m.first_name for m in obj] for page, obj in pages.items()} == {
        "1": ["Anna", "Berta"],
        "2": ["Clara", "Dora"],
        "3": ["Emil"],
        "9": ["Emil"],  # past the end: the last page
        "x": ["Anna", "Berta"],
    }
    assert pages["1"].paginator.count == 5
    response = client.get(url, {"q": "schmidt"})
    assert "5 Mitglieder" in response.text and "Seite 1 von 3" in response.text
    nothing = client.get(url, {"q": "niemand"}).context["page_obj"]
    assert (nothing.paginator.count, list(nothing)) == (0, [])


def test_a_search_finds_members_by_the_state_they_now_belong_to(
    client, tree, board_sn, board_sh, federal_admin
):
    moved = make_member(tree.leipzig, last_name="Wanderer")
    stays = make_member(tree.dresden, last_name="Wanderer")
    services.transfer_member(by=federal_admin, member=moved, to=tree.kiel, on=date(2025, 1, 1))
    search = {"q": "wanderer"}
    client.force_login(board_sn)
    in_sachsen = client.get(reverse("members:member_list", args=[tree.sn.pk]), search)
    assert list(in_sachsen.context["page_obj"]) == [stays]
    client.force_login(board_sh)
    in_sh = client.get(reverse("members:member_list", args=[tree.sh.pk]), search)
    assert list(in_sh.context["page_obj"]) == [moved]
    # A member whose state went stale (a bulk write) is put right by the services' update.
    Member.objects.filter(pk=moved.pk).update(state=tree.sn)
    assert services.fill_states() == 1
    moved.refresh_from_db()
    assert moved.state == tree.sh


def test_the_dashboard_lists_each_sub_division_with_its_figures(client, tree, board_sn):
    today = timezone.localdate()
    members = [make_member(tree.leipzig, joined_on=today) for _ in range(3)]
    services.end_membership(by=None, member=members[0], on=today, reason=EndReason.EXIT)
    client.force_login(board_sn)
    text = client.get(reverse("members:division_detail", args=[tree.sn.pk])).text
    row = next(line for line in text.splitlines() if tree.leipzig.name in line and "<tr>" in line)
    cells = [cell.split("<")[0] for cell in row.split('class="text-end">')[1:]]
    assert cells == ["2", "3", "1"]  # members now, entries and exits in 365 days
    assert f'href="{reverse("members:division_detail", args=[tree.leipzig.pk])}"' in row
    assert '<polyline points="' in row
