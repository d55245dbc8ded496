"""The Art. 15 report: every app's part, nothing of others' confidential notes, three files."""

import io
import json
import zipfile

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db.models import Field
from django.urls import reverse

from members.models import AccessKind, AccessLog, Member, User
from privacy import subject_access
from tests.factories import make_member
from tests.privacy.conftest import SECRET_NOTE

pytestmark = pytest.mark.django_db


def holding_fields():
    """Every field by which a record of any app belongs to a member or a login account."""
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if (
                isinstance(field, Field)  # declared on the model, not the other side's
                and field.related_model in (Member, User)
                and (field.many_to_one or field.one_to_one or field.many_to_many)
            ):
                yield model, field


def test_every_field_holding_a_member_or_an_account_is_reported_or_only_names_staff():
    """A new model holding member data fails here until the report covers it."""
    names = {f"{m._meta.label}.{f.name}" for m, f in holding_fields()}
    unknown = names - set(subject_access.COVERED) - subject_access.ACTORS
    assert not unknown, f"not in the Art. 15 report: {sorted(unknown)}"
    assert not set(subject_access.COVERED) - names, "COVERED names a field that is gone"
    sections = {make.__name__.lstrip("_") for make in subject_access.SECTIONS}
    assert set(subject_access.COVERED.values()) <= {s for s in sections} | {"access_log"}


def test_each_app_contributes_its_part_of_a_member_touched_by_every_app(touched):
    report = subject_access.collect(touched.member)
    by_key = {s.key: s for s in report.sections}
    for name, section in subject_access.COVERED.items():
        label, field_name = name.rsplit(".", 1)
        model = apps.get_model(label)
        target = (
            touched.account
            if model._meta.get_field(field_name).related_model is User
            else touched.member
        )
        assert model._default_manager.filter(**{field_name: target}).exists(), (
            f"the fixture does not touch {name}"
        )
        assert by_key[section].rows, f"{name}: section {section} is empty"
    for label, section in subject_access.BY_OBJECT_ID.items():
        assert by_key[section].rows, f"{label}: section {section} is empty"
    record = by_key["record"].rows[0]
    assert (
        record["Vorname"] == "Ada" and record["Mitgliedsnummer"] == touched.member.membership_number
    )
    # The consent and its history: given at admission, withdrawn later.
    consents = [row["Einwilligung Newsletter"] for row in by_key["consents"].rows]
    assert consents[0] is False and True in consents[1:]
    # Who changed the record, and who looked at it (their page, and the export they were in).
    assert "bund" in {row["von"] for row in by_key["versions"].rows}
    seen = {row["wie"] for row in by_key["access_log"].rows}
    assert {"Mitgliedsseite", "Export"} <= seen


def test_others_confidential_notes_are_withheld_and_the_report_says_so(touched):
    files = subject_access.files(touched.member, by=touched.board)
    for content in files.values():
        if not content.startswith(b"%PDF"):
            assert SECRET_NOTE.encode() not in content
    payload = json.loads(files[f"auskunft-{touched.member.membership_number}.json"])
    onboarding = next(s for s in payload["sections"] if s["key"] == "onboarding")
    assert "zurückgehalten" in onboarding["withheld"]
    assert "zurückgehalten" in files[f"auskunft-{touched.member.membership_number}.html"].decode()


def test_the_command_writes_html_pdf_and_json(touched, tmp_path):
    number = touched.member.membership_number
    call_command("subject_access", str(number), "--out", str(tmp_path))
    html = (tmp_path / f"auskunft-{number}.html").read_text()
    assert "Ada" in html and "Auskunft" in html and "Sommerfest" in html
    assert (tmp_path / f"auskunft-{number}.pdf").read_bytes().startswith(b"%PDF")
    data = json.loads((tmp_path / f"auskunft-{number}.json").read_text())
    assert data["membership_number"] == number
    assert {s["key"] for s in data["sections"]} >= {"record", "payments", "mailings", "onboarding"}
    # Making the report is itself on the record of who saw the member.
    assert AccessLog.objects.filter(member=touched.member, kind=AccessKind.REPORT).exists()


def test_the_federal_office_downloads_the_report_from_the_admin(client, touched, federal_admin):
    client.force_login(federal_admin)
    response = client.post(
        reverse("admin:members_member_changelist"),
        {"action": "subject_access_report", "_selected_action": [touched.member.pk]},
    )
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    number = touched.member.membership_number
    assert sorted(archive.namelist()) == sorted(
        f"auskunft-{number}.{ext}" for ext in ("html", "json", "pdf")
    )


def test_a_board_cannot_make_the_report(client, touched, board_sn):
    client.force_login(board_sn)
    board_sn.is_staff = True
    board_sn.save()
    response = client.post(
        reverse("admin:members_member_changelist"),
        {"action": "subject_access_report", "_selected_action": [touched.member.pk]},
        follow=True,
    )
    assert response.headers["Content-Type"].startswith("text/html")
    assert not AccessLog.objects.filter(kind=AccessKind.REPORT).exists()


def test_a_shared_family_address_shows_no_other_persons_account(touched, tree):
    child = make_member(tree.leipzig, first_name="Kind", email="ADA@example.org")
    report = subject_access.collect(child)
    account = report.section("account")
    assert account.rows == [] and "dieselbe E-Mail-Adresse" in account.withheld
    assert report.section("roles").rows == [] and report.section("onboarding").rows == []
    # Nor Ada's own, now that her address is shared.
    assert subject_access.collect(touched.member).section("account").rows == []


def test_a_payment_only_suggested_as_theirs_shows_no_payer(touched):
    payments = subject_access.collect(touched.member).section("payments").rows
    suggested = [row for row in payments if "Zahler*in" not in row]
    assert len(suggested) == 1 and suggested[0]["Status"] == "als deine vorgeschlagen"
