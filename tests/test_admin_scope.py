"""The admin obeys the access rule for writes as for reads: a staff account of Schleswig-Holstein
holding any one model permission can neither read nor change what belongs to Sachsen, and the
tree, bank files and direct admissions are the federal office's alone."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from finance import receipts, statements
from finance.models import (
    BankStatement,
    BankUpload,
    Charge,
    Collection,
    ContributionReceipt,
    FeeRule,
    Mandate,
    MonthlyStatement,
    Payment,
    Payout,
    ReceiptRun,
    Reminder,
    SharePolicy,
    StrikeOff,
)
from mailings import services as mailings
from mailings.models import Mailing
from members import exports, imports, services
from members.models import (
    AccessLog,
    AuditEntry,
    ChangeRequest,
    Division,
    ExportLog,
    ImportBatch,
    ImportValueChoice,
    Member,
    RequestKind,
    RoleAssignment,
)
from privacy.models import LegalHold, RetentionNotice
from tests.factories import make_member, make_user
from tests.finance.statements import entry, statement

pytestmark = pytest.mark.django_db


def staff_of_sh(tree, *codenames, role="board"):
    """A Schleswig-Holstein board (or treasurer) with staff status and only these permissions."""
    user = make_user(f"{role}-{'-'.join(codenames) or 'none'}@sh.example.org", tree.sh, role)
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def sachsen(tree, board_sn):
    """One object of every kind the admin shows that belongs to Sachsen."""
    FeeRule.objects.create(
        fee_class="regular", yearly_amount=Decimal("120.00"), valid_from=date(2020, 1, 1)
    )
    member = make_member(tree.leipzig, first_name="Sächsin", last_name="Geheim")
    assert Charge.objects.filter(member=member).exists()  # admission charged the dues
    payment = Payment.objects.create(
        member=member, amount=Decimal("120.00"), booked_on=date(2026, 3, 2), reference="Sachsen"
    )
    request = services.submit_change_request(
        by=board_sn,
        kind=RequestKind.CONTACT,
        member=member,
        values={"city": "Chemnitz"},
    )
    batch = imports.create_batch(
        by=board_sn, division=tree.sn, content=b"Vorname;Nachname\nAnna;Alt\n", filename="sn.csv"
    )
    value = ImportValueChoice.objects.create(
        division=tree.sn, field="division", key="kv leipzig", choice=str(tree.leipzig.pk)
    )
    log = exports.log_export(
        by=board_sn,
        division=tree.sn,
        purpose="Versand",
        filters={},
        file_format="csv",
        rows=1,
        member_ids=[member.pk],
    )
    mailing = mailings.create_mailing(
        by=board_sn,
        division=tree.sn,
        values={
            "kind": "official",
            "sender_name": "LV Sachsen",
            "reply_to": "lv@sachsen.example.org",
            "subject": "Nur Sachsen",
            "body": "Hallo",
        },
    )
    reminder = Reminder.objects.create(
        member=member,
        level=1,
        arrears_since=date(2025, 1, 1),
        sent_on=date(2025, 1, 2),
        amount=Decimal("120.00"),
        reference="MB2025 1",
        channel=Reminder.Channel.LETTER,
    )
    strike_off = StrikeOff.objects.create(
        member=member,
        arrears_since=date(2025, 1, 1),
        proposed_on=date(2026, 1, 2),
        amount=Decimal("120.00"),
    )
    mandate = Mandate.objects.create(
        member=member,
        reference="MR-Geheim-1",
        signed_on=date(2025, 1, 1),
        holder="Geheim",
        iban="DE89370400440532013000",
    )
    collection = Collection.objects.create(
        due_on=date(2026, 3, 1), division=tree.sn, message_id="MR-Geheim", file_gz=b""
    )
    payout = Payout.objects.create(
        quarter=date(2026, 1, 1),
        state=tree.sn,
        state_amount=Decimal("60.00"),
        district_amount=Decimal("0.00"),
    )
    run = ReceiptRun.objects.create(year=2025, division=tree.sn, status="done")
    receipt = ContributionReceipt.objects.create(
        number="2025-000001",
        year=2025,
        serial=1,
        member=member,
        run=run,
        wording=receipts.current_wording(),
        issued_on=date(2026, 1, 15),
        dues=Decimal("120.00"),
        donations=Decimal(0),
        lines=[["2025-03-02", "dues", "120.00"]],
        address=["Sächsin Geheim"],
        channel="letter",
    )
    return {
        Member: member,
        Mandate: mandate,
        Payout: payout,
        SharePolicy: SharePolicy.objects.create(state=tree.sn, district_percent=10),
        ContributionReceipt: receipt,
        ReceiptRun: run,
        Collection: collection,
        Charge: Charge.objects.get(member=member),
        Reminder: reminder,
        StrikeOff: strike_off,
        Payment: payment,
        ChangeRequest: request,
        ImportBatch: batch,
        ImportValueChoice: value,
        ExportLog: log,
        AuditEntry: AuditEntry.objects.filter(division__path__startswith=tree.sn.path).first(),
        MonthlyStatement: statements.prepare(tree.sn, date(2026, 1, 1)),
        Mailing: mailing,
        Division: tree.leipzig,
        RoleAssignment: board_sn.role_assignments.get(),
        AccessLog: AccessLog.objects.create(user=board_sn, kind="page", member=member, path="/"),
        LegalHold: LegalHold.objects.create(
            member=member,
            kind="dispute",
            reason="Schiedsgericht",
            placed_by=board_sn,
            placed_on=date(2026, 1, 1),
        ),
        RetentionNotice: RetentionNotice.objects.create(
            member=member, sent_on=date(2026, 1, 1), due_on=date(2026, 7, 1), channel="letter"
        ),
    }


SCOPED = [
    Member,
    Mandate,
    Payout,
    SharePolicy,
    ContributionReceipt,
    ReceiptRun,
    Collection,
    Charge,
    Reminder,
    StrikeOff,
    Payment,
    ChangeRequest,
    ImportBatch,
    ImportValueChoice,
    ExportLog,
    AuditEntry,
    MonthlyStatement,
    Mailing,
    Division,
    RoleAssignment,
    AccessLog,
    LegalHold,
    RetentionNotice,
]


def test_every_admin_model_with_division_or_member_data_is_in_the_matrix():
    """A new admin model that points at a member or a division must be added above."""
    pointing = set()
    for model in admin.site._registry:
        targets = {
            field.related_model
            for field in model._meta.get_fields()
            if field.is_relation and (field.many_to_one or field.one_to_one) and field.concrete
        }
        if targets & {Member, Division} or model in (Member, Division):
            pointing.add(model)
    onboarding = {m for m in pointing if m._meta.app_label == "onboarding"}  # by circle, below
    mailing_parts = {m for m in pointing if m._meta.model_name in {"mailingsettings"}}
    assert pointing - onboarding - mailing_parts == set(SCOPED)


def _admin_url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("action", ["view", "add", "change", "delete"])
@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m.__name__)
def test_one_permission_of_schleswig_holstein_never_reaches_sachsen(
    client, tree, sachsen, model, action
):
    obj = sachsen[model]
    user = staff_of_sh(tree, f"{action}_{model._meta.model_name}")
    client.force_login(user)
    before = model.objects.filter(pk=obj.pk).values().get()

    changelist = client.get(_admin_url(model, "changelist"), {"q": ""})
    if changelist.status_code == 200:
        assert obj.pk not in {o.pk for o in changelist.context["cl"].result_list}
    else:
        assert changelist.status_code in (302, 403)

    page = client.get(_admin_url(model, "change", obj.pk))
    assert page.status_code in (302, 403, 404)
    assert "Geheim" not in page.text

    posted = client.post(_admin_url(model, "change", obj.pk), {"name": "Übernommen"})
    assert posted.status_code in (302, 403, 404)
    deleted = client.post(_admin_url(model, "delete", obj.pk), {"post": "yes"})
    assert deleted.status_code in (302, 403, 404)
    assert model.objects.filter(pk=obj.pk).values().get() == before


def test_a_treasurer_cannot_book_onto_a_foreign_member_nor_learn_who_exists(client, tree, sachsen):
    treasurer = staff_of_sh(tree, "add_payment", "view_payment", role="treasurer")
    own = make_member(tree.kiel, last_name="Kieler")
    client.force_login(treasurer)
    url = reverse("admin:finance_payment_add")
    values = {"amount": "-500.00", "booked_on": "2026-03-02", "method": "cash", "reference": "x"}
    foreign = client.post(url, {**values, "member": sachsen[Member].pk})
    unknown = client.post(url, {**values, "member": 999999})
    assert foreign.status_code == unknown.status_code == 200
    assert foreign.context["adminform"].form.errors == unknown.context["adminform"].form.errors
    assert not Payment.objects.filter(amount=Decimal("-500.00")).exists()
    mine = client.post(url, {**values, "amount": "12.00", "member": own.pk})
    assert mine.status_code == 302
    booked = Payment.objects.get(member=own)
    assert AuditEntry.objects.filter(
        action="payment.recorded", object_id=str(booked.pk), actor=treasurer
    ).exists()


def test_the_payment_service_refuses_a_foreign_member(tree, sachsen):
    from django.core.exceptions import PermissionDenied

    from finance import payments

    treasurer = staff_of_sh(tree, "add_payment", role="treasurer")
    with pytest.raises(PermissionDenied):
        payments.record_payment(
            member=sachsen[Member],
            amount=Decimal("-500.00"),
            booked_on=date(2026, 3, 2),
            method="cash",
            by=treasurer,
        )


def test_bank_files_are_the_federal_offices_alone(client, tree, sachsen):
    user = staff_of_sh(tree, "add_payment", "view_payment", "view_bankstatement")
    client.force_login(user)
    content = statement(
        entry("500.00", ref="X1", reference=f"MB2026 {sachsen[Member].membership_number}")
    )
    response = client.post(
        reverse("admin:finance_bankstatement_upload"),
        {"file": SimpleUploadedFile("auszug.xml", content)},
    )
    assert response.status_code == 302
    assert not BankUpload.objects.exists()
    assert not BankStatement.objects.exists()
    assert not Payment.objects.filter(bank_reference="X1").exists()
    from django.core.exceptions import PermissionDenied

    from finance import payments

    with pytest.raises(PermissionDenied):
        payments.queue_bank_file(content=content, filename="auszug.xml", by=user)


def test_direct_admission_is_the_federal_offices_alone(client, tree):
    user = staff_of_sh(tree, "add_member", "view_member")
    client.force_login(user)
    response = client.post(
        reverse("admin:members_member_add"),
        {
            "first_name": "Quer",
            "last_name": "Einsteiger",
            "division": tree.leipzig.pk,
            "joined_on": "2026-01-01",
            "fee_class": "regular",
            "country": "DE",
        },
    )
    assert response.status_code == 403
    assert not Member.objects.filter(last_name="Einsteiger").exists()


def test_the_tree_is_the_federal_offices_alone(client, tree):
    user = staff_of_sh(tree, "add_division", "change_division", "view_division")
    client.force_login(user)
    kiel_path = tree.kiel.path
    move = client.post(
        reverse("admin:members_division_change", args=[tree.kiel.pk]),
        {
            "name": "Kreisverband Kiel",
            "code": "SH-KI",
            "level": "district",
            "treebeard_position": "first-child",
            "treebeard_ref_node": tree.sn.pk,
        },
    )
    assert move.status_code in (302, 403)
    drag = client.post(
        reverse("admin:members_division_changelist") + "move/",
        {"node": tree.kiel.pk, "target": tree.sn.pk, "relation": "child"},
    )
    assert drag.status_code in (403, 404)
    add = client.post(
        reverse("admin:members_division_add"),
        {
            "name": "KV Neu",
            "code": "SN-N",
            "level": "district",
            "treebeard_position": "first-child",
            "treebeard_ref_node": tree.sn.pk,
        },
    )
    assert add.status_code == 403
    tree.kiel.refresh_from_db()
    assert tree.kiel.path == kiel_path
    assert not Division.objects.filter(code="SN-N").exists()


def test_a_division_moved_by_the_federal_office_is_audited_and_recounted(
    client, tree, federal_admin, django_capture_on_commit_callbacks
):
    from members import figures, stats

    make_member(tree.kiel, joined_on=date(2025, 6, 1))
    client.force_login(federal_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:members_division_changelist") + "move/",
            {"node": tree.kiel.pk, "target": tree.sn.pk, "relation": "child"},
        )
    assert response.status_code == 200
    assert AuditEntry.objects.filter(
        action="division.changed", object_id=str(tree.kiel.pk)
    ).exists()
    assert figures.repair(fix=False) == {"tally": 0, "days": 0, "months": 0}
    tree.sn.refresh_from_db()
    assert stats.division_figures(tree.sn, date(2026, 1, 1))[0].entries[365] == 1
