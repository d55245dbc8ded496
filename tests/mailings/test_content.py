"""Markdown in, safe HTML and readable plain text out, with personal fields filled in."""

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from mailings import content, sending
from tests.factories import make_member
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
