"""What a mailing says: Markdown to safe HTML, a plain-text part and personal fields.

The body is rendered once per mailing; each recipient's copy only fills in the personal
fields (`{{ vorname }}` and friends), escaped for the HTML part. Raw HTML in the Markdown
is shown as text, links may only be http, https or mailto, and the result is sanitised
again with nh3 (the Rust ammonia sanitiser), so no script, event handler or javascript:
link survives even if the Markdown parser let one through.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import nh3
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.translation import gettext_lazy as _
from markdown_it import MarkdownIt

ALLOWED_TAGS = {
    "a",
    "blockquote",
    "br",
    "code",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "strong",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}

# Personal fields: German names first (the party writes German), English ones as aliases.
FIELDS: dict[str, str] = {
    "vorname": "first_name",
    "nachname": "last_name",
    "mitgliedsnummer": "membership_number",
    "gliederung": "division",
    "first_name": "first_name",
    "last_name": "last_name",
    "membership_number": "membership_number",
    "division": "division",
}
FIELD_HELP = _(
    "Personal fields: {{ vorname }}, {{ nachname }}, {{ mitgliedsnummer }}, {{ gliederung }}."
)
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]+)\s*\}\}")

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_markdown.enable("table").enable("strikethrough")


# Where no recipient is meant (lists, page titles, the release request) a personal field
# reads as its label in brackets: „Hallo [Vorname]“.
FIELD_LABELS: dict[str, Promise] = {
    "first_name": _("First name"),
    "last_name": _("Last name"),
    "membership_number": _("Membership number"),
    "division": _("Division"),
}


def unknown_fields(*texts: str) -> list[str]:
    return sorted({m.group(1) for t in texts for m in PLACEHOLDER.finditer(t)} - set(FIELDS))


def to_html(markdown: str) -> str:
    """Markdown → sanitised HTML fragment (personal fields stay as placeholders)."""
    return nh3.clean(
        _markdown.render(markdown),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
    )


def fill(template: str, values: Mapping[str, str], *, html: bool, single_line: bool = False) -> str:
    def replace(match: re.Match[str]) -> str:
        key = FIELDS.get(match.group(1))
        if key is None:
            return match.group(0)
        value = values.get(key, "")
        if single_line:
            value = " ".join(value.split())
        return str(escape(value)) if html else value

    return PLACEHOLDER.sub(replace, template)


def with_labels(text: str) -> str:
    """The text with each personal field shown as its label in brackets (plain text)."""
    labels = {key: f"[{label}]" for key, label in FIELD_LABELS.items()}
    return fill(text, labels, html=False, single_line=True)


@dataclass(frozen=True)
class Personal:
    """A recipient's personal fields, and the link to unsubscribe (newsletters only)."""

    first_name: str
    last_name: str
    membership_number: str
    division: str

    def values(self) -> dict[str, str]:
        return {
            "first_name": self.first_name,
            "last_name": self.last_name,
            "membership_number": self.membership_number,
            "division": self.division,
        }
