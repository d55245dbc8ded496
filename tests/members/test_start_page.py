"""The start page: straight to the one division, a choice between several, and the federal
office's way to the national dashboard."""

from datetime import date

import pytest
from django.urls import reverse

from members.models import RoleAssignment
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_a_user_with_one_division_lands_on_its_dashboard(client, tree, board_leipzig):
    client.force_login(board_leipzig)
    response = client.get(reverse("members:dashboard"))
    assert response.status_code == 302
    assert response.url == reverse("members:division_detail", args=[tree.leipzig.pk])


def test_a_user_with_several_divisions_chooses_on_the_start_page(client, tree, board_sn):
    RoleAssignment.objects.create(
        user=board_sn, division=tree.sh, role="viewer", valid_from=date(2020, 1, 1)
    )
    client.force_login(board_sn)
    response = client.get(reverse("members:dashboard"))
    assert response.status_code == 200
    assert [mine.division.code for mine in response.context["my_divisions"]] == ["SN", "SH"]
    for division in (tree.sn, tree.sh):
        assert reverse("members:division_detail", args=[division.pk]) in response.text


def test_a_role_without_a_division_page_keeps_the_start_page(client, tree):
    """An onboarding coordinator holds a role on a division but may not open its page:
    sending them there would end in a 404."""
    coordinator = make_user("utopie25@example.org", tree.bund, "onboarding_coordinator")
    client.force_login(coordinator)
    assert client.get(reverse("members:dashboard")).status_code == 200


def test_the_federal_office_finds_the_national_dashboard_on_the_start_page(
    client, tree, federal_admin
):
    client.force_login(federal_admin)
    response = client.get(reverse("members:dashboard"))
    national = reverse("members:division_detail", args=[tree.bund.pk])
    assert response.status_code == 200
    assert f'<a class="alert-link" href="{national}">Bundesweite Übersicht öffnen</a>' in (
        response.text
    )
    assert client.get(national).status_code == 200
