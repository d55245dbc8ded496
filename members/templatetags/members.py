from __future__ import annotations

from datetime import date
from typing import Any

from django import template
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext as _

register = template.Library()


@register.simple_tag(takes_context=True)
def query_with(context: dict[str, Any], **changes: Any) -> str:
    """The current query string with some parameters replaced (pagination, sorting)."""
    query = (context.get("query") or context["request"].GET).copy()
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


@register.filter
def field_label(name: str) -> str:
    """The translated label of a member field (`division_id` reads as the division)."""
    from members.models import Member

    try:
        return str(Member._meta.get_field(name.removesuffix("_id")).verbose_name)
    except Exception:  # an unknown key in an old version: show it as it is
        return name


@register.simple_tag
def field_value(name: str, value: Any, division_names: dict[int, str] | None = None) -> str:
    """A stored register value as a board member reads it: labels, German dates."""
    from members.models import PERIOD_END_CHOICES, FeeClass, MemberStatus

    if value in (None, ""):
        return "–"
    if name == "division_id" and division_names is not None:
        return division_names.get(value, str(value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    labels = {
        "fee_class": dict(FeeClass.choices),
        "status": dict(MemberStatus.choices),
        "end_reason": dict(PERIOD_END_CHOICES),
    }.get(name)
    if labels is not None:
        return str(labels.get(value, value))
    if name in {"date_of_birth", "joined_on", "left_on"}:
        try:
            return date_format(date.fromisoformat(str(value)), "SHORT_DATE_FORMAT")
        except ValueError:
            return str(value)
    return str(value)


@register.filter
def import_counts(batch: Any) -> list[tuple[str, int, str]]:
    """The preview's four numbers with their labels."""
    return [
        (_("new"), batch.new, ""),
        (_("changed"), batch.changed, ""),
        (_("unchanged"), batch.unchanged, "text-body-secondary"),
        (_("rows with errors"), batch.errors, "text-danger" if batch.errors else ""),
    ]
