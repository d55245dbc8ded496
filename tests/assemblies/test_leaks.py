"""Every assembly URL, as every role of Sachsen, with Schleswig-Holstein's assembly: nothing
but 404 and nothing changed. Roles that do not hold assemblies get 404 on their own state's
too. (tests/members/test_access.py keeps the list of URLs complete.)"""

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from assemblies import postal, services
from assemblies.models import Assembly, Attendance, Ballot, Entry
from members import services as members
from members.models import AuditEntry, ExportLog, Role
from tests.factories import make_member, make_user
from tests.members.test_access import FOREIGN_OBJECT_URLS

pytestmark = pytest.mark.django_db

ASSEMBLY_URLS = sorted(name for name in FOREIGN_OBJECT_URLS if name.startswith("assemblies:"))


def _frozen(division, by):
    member = make_member(division)
    members.activate_members([member.pk], reason="first dues", on=date(2020, 1, 1))
    assembly = Assembly.objects.create(
        division=division,
        kind="convention",
        title="Parteitag",
        starts_at=timezone.now() + timedelta(days=90),
        place="Halle",
        cutoff_on=timezone.localdate(),
    )
    services.freeze(assembly=assembly, by=by)
    postal.create_ballots(assembly=assembly, by=by)
    return assembly, member


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_no_role_of_another_state_reaches_an_assembly(client, tree, board_sh, role):
    assembly, member = _frozen(tree.sh, board_sh)
    number = Ballot.objects.get().number
    user = make_user(f"{role}-sn@example.org", tree.sn, role)
    client.force_login(user)
    audits, exports = AuditEntry.objects.count(), ExportLog.objects.count()
    for name in ASSEMBLY_URLS:
        url = reverse(
            name, args=FOREIGN_OBJECT_URLS[name]({"assembly": assembly, "member": member})
        )
        for method in ("get", "post"):
            response = getattr(client, method)(
                url, {"number": number, "create": "1", "title": "x", "seats": 3, "method": "dhondt"}
            )
            assert response.status_code == 404, (role, name, method)
    assert Ballot.objects.get().returned_at is None
    assert not Attendance.objects.exists()
    assert Entry.objects.count() == 1
    assert (AuditEntry.objects.count(), ExportLog.objects.count()) == (audits, exports)
    listed = client.get(reverse("assemblies:assembly_list")).context["page_obj"]
    assert list(listed) == []


@pytest.mark.parametrize("role", [r.value for r in Role if r != Role.BOARD])
def test_only_boards_hold_assemblies_of_their_own_state(client, tree, board_sn, role):
    assembly, member = _frozen(tree.sn, board_sn)
    client.force_login(make_user(f"{role}-sn@example.org", tree.sn, role))
    for name in ASSEMBLY_URLS:
        url = reverse(
            name, args=FOREIGN_OBJECT_URLS[name]({"assembly": assembly, "member": member})
        )
        assert client.get(url).status_code == 404, (role, name)
    assert client.get(reverse("assemblies:assembly_new")).status_code == 403
