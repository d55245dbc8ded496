"""Legacy spreadsheets into the register: exact mapping, exact errors, all or nothing."""

import io
from datetime import date

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import CommandError, call_command
from django.urls import reverse
from openpyxl import load_workbook

from members import imports
from members.models import AuditEntry, ChangeRequest, ImportBatch, Member, RequestKind
from tests.factories import make_member
from tests.members.sheets import macro_workbook, messy_rows, workbook_bytes, zip_bomb

pytestmark = pytest.mark.django_db


@pytest.fixture
def register(tree):
    existing = make_member(
        tree.leipzig,
        first_name="Erika",
        last_name="Beispiel",
        street="Alte Straße 9",
        postal_code="04109",
        city="Leipzig",
        email="",
    )
    unchanged = make_member(
        tree.leipzig,
        first_name="Otto",
        last_name="Normal",
        street="Alte Straße 1",
        postal_code="04109",
        city="Leipzig",
        email="",
    )
    return existing, unchanged


@pytest.fixture
def upload(client, django_capture_on_commit_callbacks):
    """Upload through the page; the check task runs (eagerly) once the upload commits."""

    def post(division, content, name="mitglieder.xlsx"):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(
                reverse("members:import_new", args=[division.pk]), {"file": _file(content, name)}
            )

    return post


def _file(content, name):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content)


def check(board, division, content, name="mitglieder.xlsx"):
    batch = imports.create_batch(by=board, division=division, content=content, filename=name)
    return imports.check_batch(batch_id=batch.pk)


def rows_by_number(batch):
    return {row["row"]: row for row in batch.report}


def test_messy_sheet_is_mapped_exactly(tree, board_sn, register):
    existing, unchanged = register
    batch = check(
        board_sn,
        tree.sn,
        workbook_bytes(messy_rows(existing.membership_number, unchanged.membership_number)),
    )
    assert batch.header_row == 3  # below the merged title and an empty row
    assert batch.mapping == {
        "0": "membership_number",
        "1": "first_name",
        "2": "last_name",
        "3": "street",
        "4": "postal_code",
        "5": "city",
        "6": "email",
        "7": "phone",
        "8": "date_of_birth",
        "9": "joined_on",
        "10": "division",
        "11": "fee_class",
        "12": "",
    }


def test_messy_sheet_gives_exact_values_and_errors(tree, board_sn, register):
    existing, unchanged = register
    batch = check(
        board_sn,
        tree.sn,
        workbook_bytes(messy_rows(existing.membership_number, unchanged.membership_number)),
    )
    rows = rows_by_number(batch)
    assert sorted(rows) == [4, 5, 7, 8, 9, 10, 11]  # row 6 was empty
    first = rows[4]
    assert first["values"] == {
        "membership_number": None,
        "first_name": "Jörg",
        "last_name": "Müller",
        "street": "Hauptstr. 1",
        "postal_code": "04109",
        "city": "Leipzig",
        "email": "joerg@example.org",
        "phone": "03411234567",
        "date_of_birth": "1980-02-01",
        "joined_on": "2019-02-04",
        "division": "SN-L",
        "fee_class": "reduced",
    }
    assert rows[5]["values"]["date_of_birth"] == "1979-02-01"
    assert rows[5]["values"]["joined_on"] == "2021-03-15"
    assert (rows[5]["status"], rows[5]["values"]["division"]) == ("new", "SN-DD")
    assert (rows[7]["status"], rows[7]["diff"]) == (
        "changed",
        {"street": ["Alte Straße 9", "Neue Straße 5"]},
    )
    assert rows[8]["status"] == "unchanged"
    assert rows[9]["errors"] == [
        "Postleitzahl „123“ hat keine fünf Ziffern",
        "„kein-mail“ ist keine E-Mail-Adresse",
    ]
    # Two people sharing one address (a family): a warning on both, no error.
    assert (rows[4]["errors"], rows[4]["warnings"]) == (
        [],
        ["dieselbe E-Mail-Adresse wie Zeile 10"],
    )
    assert (rows[10]["errors"], rows[10]["warnings"]) == (
        [],
        ["dieselbe E-Mail-Adresse wie Zeile 4"],
    )
    assert rows[11]["errors"] == [
        "Gliederung „SH-KI“ ist unbekannt oder außerhalb deines Bereichs: wähle im Werteschritt, "
        "was sie bedeutet"
    ]
    assert (batch.new, batch.changed, batch.unchanged, batch.errors) == (3, 1, 1, 2)


def test_nothing_is_written_while_a_row_has_an_error(client, upload, tree, board_sn, register):
    existing, unchanged = register
    client.force_login(board_sn)
    response = upload(
        tree.sn,
        workbook_bytes(messy_rows(existing.membership_number, unchanged.membership_number)),
    )
    batch = ImportBatch.objects.get()
    assert response.url == reverse("members:import_detail", args=[batch.pk])
    assert (
        client.post(
            reverse("members:import_apply", args=[batch.pk]),
            {"checked_at": ImportBatch.objects.get(pk=batch.pk).finished_at.isoformat()},
        ).status_code
        == 302
    )
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.CHECKED
    assert not ChangeRequest.objects.exists()
    assert Member.objects.count() == 2


def test_error_list_has_the_original_rows_and_an_error_column(
    client, upload, tree, board_sn, register
):
    existing, unchanged = register
    client.force_login(board_sn)
    upload(
        tree.sn,
        workbook_bytes(messy_rows(existing.membership_number, unchanged.membership_number)),
    )
    response = client.get(reverse("members:import_errors", args=[ImportBatch.objects.get().pk]))
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "Fehler"
    assert rows[1][1:3] == ("  Jörg ", "Müller")
    assert rows[1][-2] == "'=SUMME(A1:A2)"  # kept as text, never run
    assert rows[5][1:3] == ("Fehler", "Haft")
    assert rows[5][-1] == (
        "Postleitzahl „123“ hat keine fünf Ziffern; „kein-mail“ ist keine E-Mail-Adresse"
    )
    assert rows[4][-1] in (None, "")  # the unchanged member has no error


def clean_sheet(existing_number):
    return workbook_bytes(
        [
            [
                None,
                "Jörg",
                "Müller",
                "Hauptstr. 1",
                4109,
                "Leipzig",
                "joerg@example.org",
                None,
                "01.02.1980",
                "01.03.2024",
                "SN-L",
                "ermäßigt",
                None,
            ],
            [
                existing_number,
                "Erika",
                "Beispiel",
                "Neue Straße 5",
                "04109",
                "Leipzig",
                "",
                None,
                None,
                None,
                None,
                None,
                None,
            ],
        ]
    )


def test_a_board_import_becomes_one_batch_of_change_requests(
    client, upload, tree, board_sn, register, federal_admin, django_capture_on_commit_callbacks
):
    existing, _ = register
    client.force_login(board_sn)
    upload(tree.sn, clean_sheet(existing.membership_number))
    batch = ImportBatch.objects.get()
    assert (batch.new, batch.changed, batch.errors) == (1, 1, 0)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("members:import_apply", args=[batch.pk]),
            {"checked_at": ImportBatch.objects.get(pk=batch.pk).finished_at.isoformat()},
        )
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.SUBMITTED
    requests = ChangeRequest.objects.filter(batch=batch).order_by("kind")
    assert [(r.kind, r.division.code) for r in requests] == [
        (RequestKind.CONTACT, "SN-L"),
        (RequestKind.ENTRY, "SN-L"),
    ]
    assert requests[0].proposed == {"street": "Neue Straße 5"}
    assert Member.objects.count() == 2  # nothing in the register yet
    audit = AuditEntry.objects.get(action="import.submitted")
    assert audit.data["sha256"] == batch.sha256
    # The federal office approves the batch together.
    client.force_login(federal_admin)
    client.post(
        reverse("admin:members_changerequest_changelist"),
        {"action": "approve_selected", "_selected_action": [r.pk for r in requests]},
    )
    joerg = Member.objects.get(last_name="Müller")
    assert (joerg.postal_code, joerg.fee_class, joerg.joined_on, joerg.date_of_birth) == (
        "04109",
        "reduced",
        date(2024, 3, 1),
        date(1980, 2, 1),
    )
    existing.refresh_from_db()
    assert existing.street == "Neue Straße 5"


def test_a_federal_import_is_applied_directly(tree, federal_admin, register):
    existing, _ = register
    batch = check(federal_admin, tree.sn, clean_sheet(existing.membership_number))
    imports.apply_batch(batch_id=batch.pk)
    assert Member.objects.filter(last_name="Müller", division__code="SN-L").exists()
    existing.refresh_from_db()
    assert existing.street == "Neue Straße 5"
    assert not ChangeRequest.objects.exists()


def test_applying_twice_acts_once(
    tree, federal_admin, register, django_capture_on_commit_callbacks
):
    existing, _ = register
    batch = check(federal_admin, tree.sn, clean_sheet(existing.membership_number))
    shown = batch.finished_at.isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        assert imports.start_apply(batch=batch, by=federal_admin, checked_at=shown)
    assert not imports.start_apply(batch=batch, by=federal_admin, checked_at=shown)
    imports.run_apply(batch_id=batch.pk)  # a repeated task
    assert Member.objects.filter(last_name="Müller").count() == 1


def test_correcting_the_mapping_checks_again(
    client, upload, tree, board_sn, django_capture_on_commit_callbacks
):
    content = workbook_bytes(
        [
            [
                None,
                "Anna",
                "Alt",
                "Weg 1",
                "04109",
                "Leipzig",
                "",
                None,
                None,
                None,
                None,
                None,
                "zzz",
            ]
        ]
    )
    client.force_login(board_sn)
    upload(tree.sn, content)
    batch = ImportBatch.objects.get()
    mapping = {f"column-{i}": target for i, target in batch.mapping.items()}
    mapping["column-12"] = "phone"  # the user says the remark column holds the phone
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("members:import_detail", args=[batch.pk]), mapping)
    batch.refresh_from_db()
    assert batch.mapping["12"] == "phone"
    assert batch.report[0]["values"]["phone"] == "zzz"


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (
            b"%PDF-1.4 not a sheet\x00\x01",
            "liste.pdf",
            "weder eine Tabelle noch eine CSV-Textdatei",
        ),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
            "geschuetzt.xlsx",
            "passwortgeschützt",
        ),
        (b"PK\x03\x04 broken zip", "kaputt.xlsx", "keine gültige Excel-Arbeitsmappe"),
        (b"", "leer.csv", "Die Datei ist leer."),
        (b"Vorname;Nachname\n", "nur-kopf.csv", "eine Kopfzeile, aber keine Zeilen"),
        (b"Titel\nohne;Kopfzeile\n1;2\n", "ohne.csv", "Keine Kopfzeile gefunden"),
    ],
)
def test_bad_files_get_a_clear_message_and_change_nothing(tree, board_sn, content, name, message):
    batch = check(board_sn, tree.sn, content, name)
    assert batch.status == ImportBatch.Status.FAILED
    assert message in batch.error
    assert not Member.objects.exists()


def test_a_macro_workbook_is_refused(tree, board_sn):
    batch = check(board_sn, tree.sn, macro_workbook(workbook_bytes([])), "makro.xlsm")
    assert "Makros" in batch.error


def test_a_zip_bomb_is_refused(tree, board_sn):
    batch = check(board_sn, tree.sn, zip_bomb(), "bombe.xlsx")
    assert "unplausible Größe" in batch.error


def test_too_many_rows_are_refused(tree, board_sn):
    content = ("Vorname;Nachname\n" + "A;B\n" * 200_000).encode()
    batch = check(board_sn, tree.sn, content, "riesig.csv")
    assert "mehr als 50.000 Zeilen" in batch.error


def test_windows_1252_csv_with_semicolons_is_read(tree, board_sn):
    content = "Vorname;Nachname;Straße;PLZ;Ort\nJörg;Weiß;Hauptstraße 1;4109;Leipzig\n".encode(
        "cp1252"
    )
    batch = check(board_sn, tree.sn, content, "alt.csv")
    assert batch.report[0]["values"] == {
        "first_name": "Jörg",
        "last_name": "Weiß",
        "street": "Hauptstraße 1",
        "postal_code": "04109",
        "city": "Leipzig",
    }


def test_a_formula_without_a_saved_result_is_an_error(tree, board_sn):
    content = workbook_bytes(
        [
            [
                None,
                "Anna",
                "Alt",
                "Weg 1",
                "04109",
                "Leipzig",
                "",
                "=A1*2",
                None,
                None,
                None,
                None,
                None,
            ]
        ]
    )
    batch = check(board_sn, tree.sn, content)
    assert batch.report[0]["errors"] == [
        "Formel ohne gespeichertes Ergebnis (Datei in Excel öffnen und speichern)"
    ]


def test_the_management_command_prints_the_report(tree, federal_admin, register, tmp_path, capsys):
    existing, _ = register
    path = tmp_path / "liste.xlsx"
    path.write_bytes(clean_sheet(existing.membership_number))
    call_command("import_members", str(path), "--division", "SN")
    output = capsys.readouterr().out
    assert "new: 1  changed: 1  unchanged: 0  errors: 0" in output
    assert not Member.objects.filter(last_name="Müller").exists()
    call_command("import_members", str(path), "--division", "SN", "--apply")
    assert Member.objects.filter(last_name="Müller").exists()
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\x01\x02")
    with pytest.raises(CommandError):
        call_command("import_members", str(bad), "--division", "SN")


def test_a_declared_giant_sheet_is_refused_without_reading_it(tree, board_sn):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Vorname", "Nachname"])
    sheet["XFD1"] = "x"
    sheet["A1048576"] = "y"
    buffer = io.BytesIO()
    workbook.save(buffer)
    batch = check(board_sn, tree.sn, buffer.getvalue())
    assert batch.status == ImportBatch.Status.FAILED
    assert "mehr als 50.000 Zeilen" in batch.error


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("Vorname;Nachname\nJürgen;Müller\n".encode("cp850"), "Zeichenkodierung"),
        (b'Vorname;Nachname\n"' + b"x" * 200_000 + b'";B\n', "fehlerhaft"),
    ],
)
def test_broken_csv_files_fail_cleanly_and_can_be_discarded(
    client, tree, board_sn, content, message
):
    batch = check(board_sn, tree.sn, content, "alt.csv")
    assert (batch.status, message in batch.error) == (ImportBatch.Status.FAILED, True)
    client.force_login(board_sn)
    assert client.get(reverse("members:import_errors", args=[batch.pk])).status_code == 404
    client.post(reverse("members:import_discard", args=[batch.pk]))
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.DISCARDED


def test_a_board_learns_nothing_about_people_in_other_states(tree, board_sn, federal_admin):
    make_member(
        tree.kiel,
        first_name="Mia",
        last_name="Albrecht",
        date_of_birth=date(1984, 5, 25),
        email="mia@example.org",
    )
    content = b"Vorname;Nachname;Geburtsdatum;E-Mail\nMia;Albrecht;25.05.1984;mia@example.org\n"
    assert check(board_sn, tree.sn, content, "a.csv").report[0]["errors"] == []
    flagged = check(federal_admin, tree.sn, content, "a.csv").report[0]["errors"]
    assert flagged == [
        "ein Mitglied mit demselben Namen und Geburtsdatum ist schon im Register",
        "ein Mitglied mit diesem Namen und dieser E-Mail-Adresse ist schon im Register",
    ]


def test_an_entry_already_requested_is_a_duplicate(tree, board_sn):
    content = "Vorname;Nachname;Geburtsdatum;E-Mail\nJürgen;Weiß;01.02.1980;juergen@example.org\n".encode()
    first = check(board_sn, tree.sn, content, "a.csv")
    imports.apply_batch(batch_id=first.pk)
    second = check(board_sn, tree.sn, content, "b.csv")
    assert len(second.report[0]["errors"]) == 2


def test_the_federal_office_does_not_admit_a_member_twice(tree, board_sn, board_sh, federal_admin):
    from members import services

    make_member(tree.kiel, first_name="Mia", last_name="Albrecht", email="mia@example.org")
    request = services.submit_change_request(
        by=board_sn,
        kind=RequestKind.ENTRY,
        division=tree.leipzig,
        values={"first_name": "Mia", "last_name": "Albrecht", "email": "MIA@example.org"},
    )
    with pytest.raises(services.ChangeRequestError, match="bereits Mitglied"):
        services.approve_change_request(request=request, by=federal_admin)
    assert Member.objects.filter(last_name="Albrecht").count() == 1


def test_empty_cells_keep_what_the_register_knows(tree, board_sn):
    member = make_member(
        tree.leipzig,
        first_name="Paula",
        last_name="Werner",
        email="paula@example.org",
        phone="0341 1",
        date_of_birth=date(1990, 1, 1),
    )
    content = (
        f"Mitgliedsnummer;Vorname;Nachname;E-Mail;Telefon;Geburtsdatum\n"
        f"{member.membership_number};Paula;Werner;;;\n"
    ).encode()
    batch = check(board_sn, tree.sn, content, "a.csv")
    assert (batch.report[0]["status"], batch.report[0]["diff"]) == ("unchanged", {})


def test_implausible_values_are_errors_not_guesses(tree, board_sn):
    content = workbook_bytes(
        [[None, "A", "B", "Weg 1", "0410", "Ort", "", None, 1969, None, None, None, None]]
    )
    errors = check(board_sn, tree.sn, content).report[0]["errors"]
    assert errors == [
        "Postleitzahl „0410“ hat keine fünf Ziffern",
        "Geburtsdatum „1969“ ohne Tag: wähle im Werteschritt, wie solche Daten gelesen werden",
    ]


def test_the_error_list_neutralises_headers_and_the_file_goes_after_submission(
    client, upload, tree, board_sn, django_capture_on_commit_callbacks
):
    client.force_login(board_sn)
    upload(tree.sn, b'=HYPERLINK("x");Vorname;Nachname\n1;Anna;Alt\n', "a.csv")
    batch = ImportBatch.objects.get()
    sheet = load_workbook(
        io.BytesIO(client.get(reverse("members:import_errors", args=[batch.pk])).content)
    ).active
    assert sheet.cell(row=1, column=1).value == '\'=HYPERLINK("x")'
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("members:import_apply", args=[batch.pk]),
            {"checked_at": ImportBatch.objects.get(pk=batch.pk).finished_at.isoformat()},
        )
    batch.refresh_from_db()
    assert (batch.status, bytes(batch.content)) == (ImportBatch.Status.SUBMITTED, b"")
    assert client.get(reverse("members:import_errors", args=[batch.pk])).status_code == 404


def test_a_member_changed_after_the_check_stops_the_import(tree, board_sn, register):
    from members import services

    existing, _ = register
    batch = check(board_sn, tree.sn, clean_sheet(existing.membership_number))
    services.update_member(by=None, member=existing, changes={"street": "Inzwischen 9"})
    with pytest.raises(Exception, match="seit der Prüfung geändert"):
        imports.apply_batch(batch_id=batch.pk)
    existing.refresh_from_db()
    assert existing.street == "Inzwischen 9"
    assert not ChangeRequest.objects.exists()


def test_only_the_uploader_remaps_discards_or_submits_an_import(
    client, tree, federal_admin, board_sn, register, django_capture_on_commit_callbacks
):
    """The federal office uploaded a Sachsen sheet: the Sachsen board sees it, changes nothing."""
    existing, _ = register
    batch = check(federal_admin, tree.sn, clean_sheet(existing.membership_number))
    mapping = dict(batch.mapping)
    client.force_login(board_sn)
    page = client.get(reverse("members:import_detail", args=[batch.pk]))
    assert "nur sie/er kann" in page.text or "only they can" in page.text
    assert 'name="column-0"' not in page.text
    swapped = {f"column-{i}": "last_name" if t == "first_name" else t for i, t in mapping.items()}
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("members:import_detail", args=[batch.pk]), swapped)
        client.post(reverse("members:import_discard", args=[batch.pk]))
        client.post(
            reverse("members:import_apply", args=[batch.pk]),
            {"checked_at": batch.finished_at.isoformat()},
        )
    batch.refresh_from_db()
    assert (batch.status, batch.mapping) == (ImportBatch.Status.CHECKED, mapping)
    with pytest.raises(PermissionDenied):
        imports.start_check(batch=batch, by=board_sn, mapping={})
    with pytest.raises(PermissionDenied):
        imports.discard_batch(batch=batch, by=board_sn)


def test_a_preview_checked_again_cannot_be_submitted_from_the_old_page(
    client, tree, federal_admin, register, django_capture_on_commit_callbacks
):
    existing, _ = register
    batch = check(federal_admin, tree.sn, clean_sheet(existing.membership_number))
    seen = batch.finished_at.isoformat()
    client.force_login(federal_admin)
    with django_capture_on_commit_callbacks(execute=True):
        # Another tab corrects the mapping: the file is checked again.
        client.post(
            reverse("members:import_detail", args=[batch.pk]),
            {f"column-{i}": t for i, t in batch.mapping.items()},
        )
        response = client.post(
            reverse("members:import_apply", args=[batch.pk]), {"checked_at": seen}, follow=True
        )
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.CHECKED
    assert "seit du die Vorschau gesehen hast" in response.text
    assert not Member.objects.filter(last_name="Müller").exists()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("members:import_apply", args=[batch.pk]),
            {"checked_at": batch.finished_at.isoformat()},
        )
    assert Member.objects.filter(last_name="Müller").exists()
