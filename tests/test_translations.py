"""German is the default language: every string is translated and the shipped .mo is current."""

from pathlib import Path

import polib

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "de" / "LC_MESSAGES"


def test_every_string_has_a_german_translation():
    po = polib.pofile(str(LOCALE / "django.po"))
    assert [e.msgid for e in po.untranslated_entries()] == []
    assert [e.msgid for e in po.fuzzy_entries()] == []


def test_compiled_catalogue_matches_the_sources():
    po = {e.msgid: e.msgstr for e in polib.pofile(str(LOCALE / "django.po")).translated_entries()}
    mo = {e.msgid: e.msgstr for e in polib.mofile(str(LOCALE / "django.mo")) if e.msgid}
    assert mo == po, "run `make messages` to compile locale/de"
