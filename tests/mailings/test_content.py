"""Markdown in, safe HTML and readable plain text out, with personal fields filled in."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from mailings import content, sending
from tests.factories import make_member, make_user
from tests.mailings.conftest import write

HOSTILE = """
# Einladung

<script>alert('xss')</script>

<img src=x onerror="alert(1)">

<a href="https://example.org" onclick="steal()">Klick</a>

[harmlos?](javascript:alert(document.cookie))

[auch nicht](JAVASCRIPT:alert(1)) [data](data:text/html;base64,PHNjcmlwdD4=)

<iframe src="https://evil.example"></iframe>

[Programm](https://example.org/programm) und **fett**
"""


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))


def test_markdown_with_scripts_handlers_and_javascript_links_comes_out_harmless():
    html = content.to_html(HOSTILE)
    parser = Elements()
    parser.feed(html)
    tags = {tag for tag, _attrs in parser.found}
    assert not tags & {"script", "img", "iframe", "object", "embed", "style"}
    for _tag, attrs in parser.found:
        assert not [name for name in attrs if name.lower().startswith("on")]
        if "href" in attrs:
            assert urlsplit(attrs["href"]).scheme in ("http", "https", "mailto")
    links = [attrs["href"] for tag, attrs in parser.found if tag == "a"]
    assert links == ["https://example.org/programm"]
    # What was hostile is shown as text, so the writer sees what went wrong.
    assert "&lt;script&gt;" in html
    assert "<strong>fett</strong>" in html
    assert "<h1>Einladung</h1>" in html


@pytest.mark.django_db
def test_personal_fields_are_filled_in_and_escaped(tree, board_sn):
    mailing = write(
        board_sn,
        tree.sn,
        subject="Hallo {{ vorname }}",
        body="Liebe*r {{vorname}} {{ nachname }}, deine Nummer: {{ mitgliedsnummer }}.",
    )
    member = make_member(tree.leipzig, first_name="<b>Anna</b>", last_name="O'Neil")
    message = sending.Rendered.of(mailing).message(
        to=member.email, personal=sending.personal_fields(member)
    )
    html = message.alternatives[0][0]
    assert message.subject == "Hallo <b>Anna</b>"  # a header, not HTML
    assert "&lt;b&gt;Anna&lt;/b&gt; O&#x27;Neil" in html
    assert "<b>Anna</b>" not in html
    assert f"deine Nummer: {member.membership_number}." in message.body
    assert "Liebe*r <b>Anna</b> O'Neil" in message.body  # plain text stays plain


@pytest.mark.django_db
def test_unknown_personal_fields_are_refused(tree, board_sn):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="passwort"):
        write(board_sn, tree.sn, body="Dein {{ passwort }}")


def test_subjects_show_personal_fields_as_labels_wherever_the_mailing_is_listed(
    client, tree, board_sn, federal_admin, sachsen, mailoutbox, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from mailings import services
    from mailings.models import MailingSettings

    raw = "Hallo {{ vorname }} {{nachname}}, Neues für {{ gliederung }} ({{ mitgliedsnummer }})"
    shown = "Hallo [Vorname] [Nachname], Neues für [Gliederung] ([Mitgliedsnummer])"
    mailing = write(board_sn, tree.sn, subject=raw)
    client.force_login(board_sn)
    pages = {
        name: client.get(reverse(f"mailings:{name}", args=args)).text
        for name, args in [
            ("mailing_list", []),
            ("mailing_detail", [mailing.pk]),
            ("mailing_send", [mailing.pk]),
            ("mailing_preview", [mailing.pk]),
            ("mailing_excluded", [mailing.pk]),
        ]
    }
    assert {name: ("{{" in html, shown in html) for name, html in pages.items()} == {
        name: (False, True) for name in pages
    }
    client.force_login(federal_admin)
    admin_list = client.get(reverse("admin:mailings_mailing_changelist")).text
    assert ("{{" in admin_list, shown in admin_list) == (False, True)
    # The preview shows the sample member's own subject.
    assert "Hallo Erika Musterfrau, Neues für Musterstadt (123456)" in pages["mailing_preview"]

    # A second board member asked to release it reads the same.
    MailingSettings.objects.create(division=tree.sn, release_required=True)
    make_user("vorstand2-sn@example.org", tree.sn, "board")
    sender = make_user("versand2-sn@example.org", tree.sn, "mailing_sender")
    asked = write(sender, tree.sn, subject=raw)
    with django_capture_on_commit_callbacks(execute=True):
        services.request_sending(by=sender, mailing=asked)
    assert {m.subject for m in mailoutbox} == {f"Bitte gib das Mailing „{shown}“ frei"}
    assert all(f"Betreff: {shown}" in m.body for m in mailoutbox)
