from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (pagination, sorting)."""
    query = context["query"].copy()
    for key, value in changes.items():
        query[key] = value
    return query.urlencode()


@register.simple_tag(takes_context=True)
def sort_link(context: dict[str, Any], label: str, key: str) -> str:
    """A column header that sorts by `key`, and the other way round when it already does."""
    current = context.get("sort", "name")
    descending = current == key
    query = context["query"].copy()
    query["sort"] = f"-{key}" if descending else key
    query.pop("page", None)
    if current == key:
        arrow, state = " ▲", _("sorted ascending")
    elif current == f"-{key}":
        arrow, state = " ▼", _("sorted descending")
    else:
        arrow, state = "", ""
    return format_html(
        '<a href="?{q}" hx-get="?{q}" hx-target="#member-results" hx-push-url="true">'
        '{label}<span aria-hidden="true">{arrow}</span><span class="visually-hidden"> {state}</span></a>',
        q=query.urlencode(),
        label=label,
        arrow=arrow,
        state=state,
    )
