"""The access rule: out of scope is 404, roles cover subtrees, delegation never escalates."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from assemblies import services as assemblies
from finance import statements
from mailings import services as mailings
from members import access, imports, services
from members.access import Action
from members.models import AuditEntry, Division, Member, RequestKind, Role, RoleAssignment
from tests.factories import make_member, make_user

pytestmark = pytest.mark.django_db

# Every URL of the board UI that takes an object, with how to build it from a foreign
# (Schleswig-Holstein) object. test_leak_test_covers_every_board_url keeps this complete.
FOREIGN_OBJECT_URLS = {
    "members:division_detail": lambda objs: [objs["division"].pk],
    "members:division_roles": lambda objs: [objs["division"].pk],
    "members:role_grant": lambda objs: [objs["division"].pk],
    "members:role_revoke": lambda objs: [objs["role"].pk],
    "members:member_list": lambda objs: [objs["division"].pk],
    "members:request_entry": lambda objs: [objs["division"].pk],
    "members:member_detail": lambda objs: [objs["member"].pk],
    "members:request_for_member": lambda objs: [objs["member"].pk, "contact"],
    "members:request_consent": lambda objs: [objs["request"].pk],
    "members:member_export": lambda objs: [objs["division"].pk],
    "members:import_new": lambda objs: [objs["division"].pk],
    "members:import_detail": lambda objs: [objs["import"].pk],
    "members:import_progress": lambda objs: [objs["import"].pk],
    "members:import_errors": lambda objs: [objs["import"].pk],
    "members:import_apply": lambda objs: [objs["import"].pk],
    "members:import_values": lambda objs: [objs["import"].pk],
    "members:import_discard": lambda objs: [objs["import"].pk],
    "finance:member_account": lambda objs: [objs["member"].pk],
    "finance:division_overview": lambda objs: [objs["division"].pk],
    "finance:statement_detail": lambda objs: [objs["statement"].pk],
    "finance:statement_download": lambda objs: [objs["statement"].pk],
    "mailings:mailing_new": lambda objs: [objs["division"].pk],
    **{
        f"assemblies:assembly_{name}": lambda objs: [objs["assembly"].pk]
        for name in [
            "detail",
            "edit",
            "freeze",
            "entries",
            "changes",
            "export",
            "invite",
            "letters",
            "seats",
            "postal",
            "dispatch",
            "checkin",
            "presence",
            "print",
        ]
    },
    "assemblies:assembly_check_in": lambda objs: [objs["assembly"].pk, objs["member"].pk],
    "mailings:audience_count": lambda objs: [objs["division"].pk],
    **{
        f"mailings:mailing_{name}": lambda objs: [objs["mailing"].pk]
        for name in [
            "detail",
            "edit",
            "preview",
            "preview_html",
            "test_send",
            "send",
            "release",
            "withdraw",
            "pause",
            "resume",
            "progress",
            "excluded",
        ]
    },
}
# What the own state's board gets for a plain GET (200 unless the URL is an action).
OWN_STATUS = {
    "members:import_apply": 302,
    "members:import_values": 302,
    "members:import_discard": 302,
    "members:import_progress": 204,
    "assemblies:assembly_freeze": 302,  # an action: a GET goes back to the assembly
    "assemblies:assembly_letters": 302,  # before the invitation: back to the assembly
    "assemblies:assembly_checkin": 302,  # before the list is frozen: back to the assembly
    "assemblies:assembly_check_in": 302,  # an action: a GET goes back to the check-in
    **{
        f"mailings:mailing_{name}": 302
        for name in ["test_send", "release", "withdraw", "pause", "resume"]
    },
}
URLS_WITHOUT_OBJECT = {
    "members:dashboard",
    "members:division_choices",  # tests/members/test_division_picker.py
    "members:request_list",
    "finance:statement_list",
    "finance:arrears",  # ?division= is scoped: tests/finance/test_arrears.py
    "finance:reminder_letters",  # a date, not an object; ?division= as above
    "finance:contributions",  # the federal office alone: tests/finance/test_year_rules.py
    "mailings:mailing_list",
    "mailings:bounced",
    "assemblies:assembly_list",  # scoped: tests/assemblies/test_pages.py
    "assemblies:assembly_new",  # the division offered are scoped: same place
}
# Open to anyone: the signed unsubscribe link (tested in tests/mailings/test_feedback.py).
PUBLIC_URLS = {"mailings:unsubscribe", "mailings:unsubscribe_sample"}


def _board_url_names() -> set[str]:
    names = set()
    for namespace in ["members", "finance", "mailings", "assemblies"]:
        resolver = get_resolver().namespace_dict[namespace][1]
        for pattern in resolver.url_patterns:
            assert isinstance(pattern, URLPattern | URLResolver)
            if isinstance(pattern, URLPattern):
                names.add(f"{namespace}:{pattern.name}")
    return names


def _an_import(board, division):
    content = b"Vorname;Nachname\nAnna;Alt\n"
    batch = imports.create_batch(by=board, division=division, content=content, filename="liste.csv")
    return imports.check_batch(batch_id=batch.pk)


def _a_mailing(board, division):
    values = {
        "kind": "newsletter",
        "sender_name": division.name,
        "reply_to": "lv@example.org",
        "subject": "Neuigkeiten",
        "body": "Hallo {{ vorname }}",
    }
    return mailings.create_mailing(by=board, division=division, values=values)


def _an_assembly(board, division):
    return assemblies.create_assembly(
        by=board,
        values={
            "division": division,
            "kind": "convention",
            "title": "Landesparteitag",
            "starts_at": timezone.now() + timedelta(days=90),
            "place": "Stadthalle",
            "online": False,
            "cutoff_on": timezone.localdate() + timedelta(days=60),
            "agenda": "",
        },
    )


def _foreign_transfer(tree, board_sh, member):
    """A move from Kiel up to the state of Schleswig-Holstein, asked by Kiel's board: it
    waits for Schleswig-Holstein's consent, which Sachsen must not be able to give."""
    kiel_board = make_user("kv-kiel@example.org", tree.kiel, "board")
    request = services.submit_change_request(
        by=kiel_board, kind=RequestKind.TRANSFER, member=member, values={}, target_division=tree.sh
    )
    assert request.consented_at is None
    return request


def test_leak_test_covers_every_board_url():
    assert _board_url_names() == set(FOREIGN_OBJECT_URLS) | URLS_WITHOUT_OBJECT | PUBLIC_URLS


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("name", sorted(FOREIGN_OBJECT_URLS))
def test_sachsen_board_gets_404_for_schleswig_holstein_objects(
    client, tree, board_sn, board_sh, name, method
):
    sh_member = make_member(tree.kiel)
    foreign = {
        "division": tree.sh,
        "role": board_sh.role_assignments.get(),
        "member": sh_member,
        "request": _foreign_transfer(tree, board_sh, sh_member),
        "import": _an_import(board_sh, tree.sh),
        "statement": statements.prepare(tree.sh, date(2026, 1, 1)),
        "mailing": _a_mailing(board_sh, tree.sh),
        "assembly": _an_assembly(board_sh, tree.sh),
    }
    client.force_login(board_sn)
    url = reverse(name, args=FOREIGN_OBJECT_URLS[name](foreign))
    response = getattr(client, method)(
        url, {"email": "x@example.org", "role": "viewer", "valid_from": "2026-01-01"}
    )
    assert response.status_code == 404
    assert RoleAssignment.objects.filter(revoked_at__isnull=False).count() == 0
    assert not RoleAssignment.objects.filter(user__email="x@example.org").exists()


@pytest.mark.parametrize("name", sorted(FOREIGN_OBJECT_URLS))
def test_the_same_urls_open_for_the_own_state(
    client, tree, board_sn, board_sh, board_leipzig, name
):
    own_member = make_member(tree.leipzig)
    incoming = services.submit_change_request(
        by=board_sh,
        kind=RequestKind.TRANSFER,
        member=make_member(tree.kiel),
        values={},
        target_division=tree.dresden,
    )
    own = {
        "import": _an_import(board_sn, tree.sn),
        "statement": statements.prepare(tree.sn, date(2026, 1, 1)),
        "division": tree.sn,
        "role": board_leipzig.role_assignments.get(),
        "member": own_member,
        "request": incoming,
        "mailing": _a_mailing(board_sn, tree.sn),
        "assembly": _an_assembly(board_sn, tree.sn),
    }
    client.force_login(board_sn)
    response = client.get(reverse(name, args=FOREIGN_OBJECT_URLS[name](own)))
    assert response.status_code == OWN_STATUS.get(name, 200)


def test_district_board_cannot_act_on_its_state(client, tree, board_leipzig, treasurer_sn):
    client.force_login(board_leipzig)
    assert client.get(reverse("members:division_detail", args=[tree.sn.pk])).status_code == 404
    assert client.get(reverse("members:division_roles", args=[tree.sn.pk])).status_code == 404
    response = client.post(
        reverse("members:role_grant", args=[tree.sn.pk]),
        {"email": "new@example.org", "role": "viewer", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 404
    revoke = reverse("members:role_revoke", args=[treasurer_sn.role_assignments.get().pk])
    assert client.post(revoke).status_code == 404
    assert treasurer_sn.role_assignments.get().revoked_at is None
    # ... but it does reach its own district and the chapters below it.
    assert (
        client.get(reverse("members:division_roles", args=[tree.leipzig_sued.pk])).status_code
        == 200
    )


def test_role_covers_the_subtree_and_nothing_beside_it(tree, board_leipzig):
    visible = set(access.divisions_visible_to(board_leipzig).values_list("code", flat=True))
    assert visible == {"SN-L", "SN-L-1"}


def test_treasurer_sees_divisions_but_manages_no_roles(client, tree, treasurer_sn):
    client.force_login(treasurer_sn)
    assert client.get(reverse("members:division_detail", args=[tree.leipzig.pk])).status_code == 200
    assert client.get(reverse("members:division_roles", args=[tree.sn.pk])).status_code == 404
    assert access.grantable_roles(treasurer_sn, tree.sn) == []


def test_staff_status_alone_reaches_nothing(tree):
    staff = make_user("staff@example.org", None, None)
    staff.is_staff = True
    staff.save()
    assert not access.divisions_visible_to(staff).exists()
    assert not access.can(staff, Action.VIEW_MEMBERS, tree.sn)


def test_federal_admin_with_the_explicit_permission_reaches_everything(tree, federal_admin):
    assert (
        access.divisions_visible_to(federal_admin, Action.MANAGE_ROLES).count()
        == Division.objects.count()
    )
    assert access.can_grant(federal_admin, Role.BOARD, tree.sn)


def test_expired_and_future_roles_grant_nothing(tree):
    user = make_user("old@example.org", None, None)
    RoleAssignment.objects.create(
        user=user,
        division=tree.sn,
        role=Role.BOARD,
        valid_from=date(2020, 1, 1),
        valid_until=date(2021, 1, 1),
    )
    RoleAssignment.objects.create(
        user=user, division=tree.sh, role=Role.BOARD, valid_from=date(2999, 1, 1)
    )
    assert not access.divisions_visible_to(user).exists()


# --- Delegation -----------------------------------------------------------------------


def test_board_grants_its_own_permissions_but_not_its_own_board(tree, board_sn):
    roles = access.grantable_roles(board_sn, tree.sn)
    assert Role.BOARD not in roles
    assert set(roles) == {Role.TREASURER, Role.MEMBERSHIP_OFFICER, Role.MAILING_SENDER, Role.VIEWER}


def test_board_records_the_boards_of_its_sub_divisions(tree, board_sn):
    assert Role.BOARD in access.grantable_roles(board_sn, tree.leipzig)


def test_board_cannot_hand_on_what_it_does_not_hold(tree, board_sn):
    # Onboarding coordination is a right no division board holds.
    assert not access.can_grant(board_sn, Role.ONBOARDING_COORDINATOR, tree.sn)


def test_grant_form_offers_today_in_the_date_pickers_format(client, tree, board_sn):
    client.force_login(board_sn)
    response = client.get(reverse("members:role_grant", args=[tree.sn.pk]))
    today = timezone.localdate().isoformat()
    assert f'type="date" name="valid_from" value="{today}"' in response.text


def test_escalation_through_the_form_is_refused(client, tree, board_sn):
    client.force_login(board_sn)
    response = client.post(
        reverse("members:role_grant", args=[tree.sn.pk]),
        {"email": "friend@example.org", "role": "board", "valid_from": "2026-01-01"},
    )
    assert response.status_code == 200
    assert "role" in response.context["form"].errors
    assert not RoleAssignment.objects.filter(user__email="friend@example.org").exists()


def test_escalation_through_the_service_is_refused(tree, board_sn, board_leipzig):
    with pytest.raises(PermissionDenied):
        services.grant_role(by=board_sn, division=tree.sn, role=Role.BOARD, email="x@example.org")
    with pytest.raises(PermissionDenied):
        services.grant_role(
            by=board_leipzig, division=tree.sn, role=Role.VIEWER, email="x@example.org"
        )
    with pytest.raises(PermissionDenied):
        services.grant_role(by=board_sn, division=tree.sh, role=Role.VIEWER, email="x@example.org")
    assert not RoleAssignment.objects.filter(user__email="x@example.org").exists()


def test_board_cannot_revoke_its_own_board_colleague(client, tree, board_sn):
    colleague = make_user("kollege@example.org", tree.sn, "board")
    client.force_login(board_sn)
    assignment = colleague.role_assignments.get()
    assert client.post(reverse("members:role_revoke", args=[assignment.pk])).status_code == 403
    assignment.refresh_from_db()
    assert assignment.revoked_at is None


# --- Grant and revoke through the UI, audited ----------------------------------------


def test_granting_a_role_invites_a_new_person_and_is_audited(
    client, new_year, tree, board_sn, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(board_sn)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("members:role_grant", args=[tree.leipzig.pk]),
            {
                "email": "Neu@Example.org",
                "first_name": "Nora",
                "last_name": "Neumann",
                "role": "treasurer",
                "valid_from": "2026-01-01",
                "valid_until": "2027-12-31",
            },
        )
    assert response.status_code == 302
    assignment = RoleAssignment.objects.get(user__email="neu@example.org")
    assert (assignment.division, assignment.role, assignment.granted_by) == (
        tree.leipzig,
        "treasurer",
        board_sn,
    )
    assert assignment.valid_until == date(2027, 12, 31)
    assert not assignment.user.has_usable_password()
    audit = AuditEntry.objects.get(action="role.granted")
    assert (audit.actor, audit.division, audit.data["user"]) == (
        board_sn,
        tree.leipzig,
        "neu@example.org",
    )
    assert AuditEntry.objects.filter(action="user.invited", actor=board_sn).count() == 1
    (invitation,) = mailoutbox  # one mail: the invitation names the role
    assert invitation.subject == "Deine Einladung zu Musterrolle"
    assert (
        "Deine Rolle: „Schatzmeister*in“ in Kreisverband Leipzig, ab dem 1. Januar 2026."
        in invitation.body
    )


def test_invitation_link_lets_the_person_set_a_password_and_log_in(
    client, tree, board_sn, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.grant_role(
            by=board_sn, division=tree.sn, role=Role.VIEWER, email="gast@example.org"
        )
    invitation = next(m for m in mailoutbox if "Einladung" in m.subject)
    link = next(
        line for line in invitation.body.splitlines() if "/accounts/password/reset/key/" in line
    )
    path = link.split("127.0.0.1:8000", 1)[1]
    response = client.get(path, follow=True)
    set_password_url = response.redirect_chain[-1][0]
    new_password = "ein-sehr-langes-passwort-2026"
    response = client.post(set_password_url, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302
    client.logout()
    response = client.post(
        reverse("account_login"), {"login": "gast@example.org", "password": new_password}
    )
    assert response.status_code == 302


def test_revoking_a_role_ends_the_access_and_is_audited(client, tree, board_sn, board_leipzig):
    assignment = board_leipzig.role_assignments.get()
    client.force_login(board_sn)
    assert client.get(reverse("members:role_revoke", args=[assignment.pk])).status_code == 200
    response = client.post(reverse("members:role_revoke", args=[assignment.pk]))
    assert response.status_code == 302
    assignment.refresh_from_db()
    assert assignment.revoked_by == board_sn
    assert AuditEntry.objects.get(action="role.revoked").object_id == str(assignment.pk)
    client.force_login(board_leipzig)
    assert client.get(reverse("members:division_detail", args=[tree.leipzig.pk])).status_code == 404


def test_onboarding_coordinator_sees_the_role_but_no_division_page(client, tree):
    coordinator = make_user("utopie25@example.org", tree.bund, "onboarding_coordinator")
    client.force_login(coordinator)
    response = client.get(reverse("members:dashboard"))
    detail = reverse("members:division_detail", args=[tree.bund.pk])
    assert "Onboarding-Koordination" in response.text
    assert detail not in response.text
    assert client.get(detail).status_code == 404


def test_navigation_lists_the_divisions_the_user_may_open(client, tree, board_leipzig):
    client.force_login(board_leipzig)
    response = client.get(reverse("members:dashboard"), follow=True)
    assert [d.name for d in response.context["nav_divisions"]] == [tree.leipzig.name]
    assert reverse("members:division_detail", args=[tree.leipzig.pk]) in response.text


def test_granting_a_role_to_an_existing_account_tells_them_without_an_invitation(
    tree, board_sn, board_leipzig, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.grant_role(
            by=board_sn, division=tree.dresden, role=Role.VIEWER, email=board_leipzig.email
        )
    assert [(m.to, m.subject) for m in mailoutbox] == [
        (["kv-leipzig@example.org"], "Neue Rolle: „Lesezugriff“ in Kreisverband Dresden")
    ]


# --- Terms of roles ---------------------------------------------------------------------


def test_nobody_grants_a_role_to_themselves(tree, board_sn):
    with pytest.raises(PermissionDenied):
        services.grant_role(
            by=board_sn, division=tree.leipzig, role=Role.VIEWER, email=board_sn.email
        )


def test_a_role_cannot_be_backdated_by_a_board(new_year, tree, board_sn):
    with pytest.raises(ValidationError):
        services.grant_role(
            by=board_sn,
            division=tree.sn,
            role=Role.VIEWER,
            email="alt@example.org",
            valid_from=date(2025, 6, 1),
        )


def test_a_handed_on_role_may_not_outlast_the_granters_term(new_year, tree):
    board = make_user("befristet@example.org", None, None)
    RoleAssignment.objects.create(
        user=board,
        division=tree.sn,
        role=Role.BOARD,
        valid_from=date(2024, 1, 1),
        valid_until=date(2026, 12, 31),
    )
    with pytest.raises(ValidationError):
        services.grant_role(by=board, division=tree.sn, role=Role.VIEWER, email="a@example.org")
    with pytest.raises(ValidationError):
        services.grant_role(
            by=board,
            division=tree.sn,
            role=Role.VIEWER,
            email="a@example.org",
            valid_until=date(2027, 1, 1),
        )
    granted = services.grant_role(
        by=board,
        division=tree.sn,
        role=Role.VIEWER,
        email="a@example.org",
        valid_until=date(2026, 12, 31),
    )
    assert granted.valid_until == date(2026, 12, 31)


def test_terms_may_follow_each_other_but_not_overlap(new_year, tree, board_sn):
    first = services.grant_role(
        by=board_sn,
        division=tree.sn,
        role=Role.VIEWER,
        email="a@example.org",
        valid_until=date(2026, 6, 30),
    )
    with pytest.raises(ValidationError):
        services.grant_role(
            by=board_sn,
            division=tree.sn,
            role=Role.VIEWER,
            email="a@example.org",
            valid_from=date(2026, 6, 1),
        )
    second = services.grant_role(
        by=board_sn,
        division=tree.sn,
        role=Role.VIEWER,
        email="a@example.org",
        valid_from=date(2026, 7, 1),
    )
    assert (first.user, second.valid_from) == (second.user, date(2026, 7, 1))


def test_expired_roles_leave_the_roles_list(client, tree, board_sn):
    old = make_user("ehemalig@example.org", None, None)
    RoleAssignment.objects.create(
        user=old,
        division=tree.leipzig,
        role=Role.VIEWER,
        valid_from=date(2020, 1, 1),
        valid_until=date(2021, 1, 1),
    )
    client.force_login(board_sn)
    response = client.get(reverse("members:division_roles", args=[tree.sn.pk]))
    assert "ehemalig@example.org" not in response.text


def test_someone_who_never_set_a_password_gets_a_fresh_invitation(
    tree, board_sn, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.grant_role(
            by=board_sn, division=tree.sn, role=Role.VIEWER, email="zoegerlich@example.org"
        )
        services.grant_role(
            by=board_sn, division=tree.dresden, role=Role.TREASURER, email="zoegerlich@example.org"
        )
    assert [m.subject for m in mailoutbox] == ["Deine Einladung zu Musterrolle"] * 2


def test_a_district_moved_to_another_state_is_seen_by_that_state_at_once(
    client, tree, federal_admin, board_sn, board_sh
):
    """Boards of a state see members by their state column: a move in the admin updates it
    in the same request, not after a task."""
    member = make_member(tree.leipzig, last_name="Umzug")
    client.force_login(federal_admin)
    response = client.post(
        reverse("admin:members_division_changelist") + "move/",
        {"node": tree.leipzig.pk, "target": tree.sh.pk, "relation": "child"},
    )
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.state_id == tree.sh.pk
    for board, sees in ((board_sh, True), (board_sn, False)):
        client.force_login(board)
        assert (
            client.get(reverse("members:member_detail", args=[member.pk])).status_code == 200
        ) is sees
        assert Member.objects.visible_to(board).filter(pk=member.pk).exists() is sees
