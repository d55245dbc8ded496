"""Strings of Django 6.1 that its German catalogue does not translate yet.

Listed here so that `makemessages` keeps them in our catalogue, which takes precedence.
Nothing imports this module.
"""

from django.utils.translation import gettext_noop

DJANGO_STRINGS = [
    gettext_noop("- Select an option -"),
    gettext_noop("Run"),
    gettext_noop("Filter by %(field_name)s"),
]
