"""The federal office works in the Django admin; every change there goes through services."""

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import Permission
from django.urls import reverse

from members.models import AuditEntry, Division, RoleAssignment, User
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_federal_admin_sees_every_division(client, tree, federal_admin):
    client.force_login(federal_admin)
    response = client.get(reverse("admin:members_division_changelist"), {"q": "verband"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == Division.objects.count()


def test_staff_without_the_federal_permission_sees_no_division(client, tree):
    staff = make_user("helfer@example.org", None, None)
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(Permission.objects.get(codename="view_division"))
    client.force_login(staff)
    response = client.get(reverse("admin:members_division_changelist"), {"q": "verband"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0


def test_admin_adds_a_division_below_a_state_and_audits_it(client, tree, federal_admin):
    client.force_login(federal_admin)
    response = client.post(
        reverse("admin:members_division_add"),
        {
            "name": "Kreisverband Zwickau",
            "code": "SN-Z",
            "level": "district",
            "treebeard_position": "first-child",
            "treebeard_ref_node": tree.sn.pk,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    zwickau = Division.objects.get(code="SN-Z")
    assert Division.objects.get_parent(zwickau) == tree.sn
    assert AuditEntry.objects.filter(
        action="division.added", object_id=str(zwickau.pk), actor=federal_admin
    ).exists()


def test_admin_invites_a_user(
    client, tree, federal_admin, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(federal_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:members_user_add"),
            {"email": "neu@example.org", "first_name": "Nele", "last_name": "Neu"},
        )
    assert response.status_code == 302
    user = User.objects.get(email="neu@example.org")
    assert not user.has_usable_password()
    assert [m.to for m in mailoutbox] == [["neu@example.org"]]
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_admin_grants_and_revokes_roles_through_the_services(client, tree, federal_admin, board_sn):
    client.force_login(federal_admin)
    response = client.post(
        reverse("admin:members_roleassignment_add"),
        {"user": board_sn.pk, "division": tree.sh.pk, "role": "viewer", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user=board_sn, division=tree.sh)
    assert assignment.granted_by == federal_admin
    response = client.post(
        reverse("admin:members_roleassignment_changelist"),
        {"action": "revoke_selected", "_selected_action": [assignment.pk]},
    )
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.revoked_by == federal_admin
    entries = AuditEntry.objects.filter(
        object_type="members.roleassignment", object_id=str(assignment.pk)
    )
    assert list(entries.order_by("pk").values_list("action", flat=True)) == [
        "role.granted",
        "role.revoked",
    ]


def test_federal_office_staff_cannot_make_anyone_superuser(client, tree, federal_admin):
    client.force_login(federal_admin)
    url = reverse("admin:members_user_change", args=[federal_admin.pk])
    response = client.get(url)
    assert "is_superuser" not in response.context["adminform"].form.fields
    client.post(
        url,
        {"email": federal_admin.email, "is_active": "on", "is_superuser": "on", "is_staff": "on"},
    )
    federal_admin.refresh_from_db()
    assert not federal_admin.is_superuser


def test_changing_the_email_in_the_admin_retires_the_old_address(
    client, tree, federal_admin, board_sh
):
    EmailAddress.objects.create(user=board_sh, email=board_sh.email, primary=True, verified=True)
    client.force_login(federal_admin)
    url = reverse("admin:members_user_change", args=[board_sh.pk])
    response = client.post(
        url, {"email": "neu-sh@example.org", "first_name": "H", "last_name": "H", "is_active": "on"}
    )
    assert response.status_code == 302
    assert list(EmailAddress.objects.filter(user=board_sh).values_list("email", flat=True)) == [
        "neu-sh@example.org"
    ]
    client.logout()
    assert (
        client.post(
            reverse("account_login"), {"login": "vorstand-sh@example.org", "password": PASSWORD}
        ).status_code
        == 200
    )
    assert "_auth_user_id" not in client.session


def test_inviting_an_existing_address_in_other_case_is_a_form_error(
    client, tree, federal_admin, board_sn
):
    client.force_login(federal_admin)
    response = client.post(reverse("admin:members_user_add"), {"email": "VORSTAND-SN@example.org"})
    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors


def test_a_duplicate_grant_in_the_admin_is_a_form_error(client, tree, federal_admin, board_sn):
    client.force_login(federal_admin)
    response = client.post(
        reverse("admin:members_roleassignment_add"),
        {"user": board_sn.pk, "division": tree.sn.pk, "role": "board", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.non_field_errors()
    assert board_sn.role_assignments.count() == 1


def test_the_federal_office_cannot_take_over_another_staff_account(client, tree, federal_admin):
    root = User.objects.create_superuser(email="root@example.org", password="x" * 20)
    client.force_login(federal_admin)
    response = client.post(
        reverse("admin:members_user_change", args=[root.pk]), {"email": "attacker@example.org"}
    )
    assert response.status_code == 403
    assert client.get(reverse("admin:auth_user_password_change", args=[root.pk])).status_code in (
        403,
        404,
    )
    root.refresh_from_db()
    assert root.email == "root@example.org"


def test_outgoing_mail_is_for_the_federal_office_only(client, tree):
    from django.contrib.auth.models import Permission

    helper = make_user("helfer@example.org", None, None)
    helper.is_staff = True
    helper.save()
    helper.user_permissions.add(Permission.objects.get(codename="view_outboundemail"))
    client.force_login(helper)
    assert client.get(reverse("admin:outbox_outboundemail_changelist")).status_code == 403
