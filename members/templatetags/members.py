from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
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
    from members.policy import mandate_policy

    try:
        return str(Member._meta.get_field(name.removesuffix("_id")).verbose_name)
    except Exception:  # a mandate's value, or an unknown key in an old version
        policy = mandate_policy()
        return str(policy.labels.get(name, name)) if policy is not None else name


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
    if name == "mandate_iban":  # a bank account, shown to those deciding, not to every page
        return f"{value[:4]} … {value[-4:]}"
    labels = {
        "fee_class": dict(FeeClass.choices),
        "status": dict(MemberStatus.choices),
        "end_reason": dict(PERIOD_END_CHOICES),
    }.get(name)
    if labels is not None:
        return str(labels.get(value, value))
    if name in {"date_of_birth", "joined_on", "left_on", "mandate_signed_on"}:
        try:
            return date_format(date.fromisoformat(str(value)), "SHORT_DATE_FORMAT")
        except ValueError:
            return str(value)
    return str(value)


@register.filter
def import_counts(batch: Any) -> list[tuple[str, int, str]]:
    """The preview's numbers with their labels: every row of the sheet is in one of them."""
    findings = batch.findings or {}
    counts = [
        (_("new"), batch.new, ""),
        (_("changed"), batch.changed, ""),
        (_("unchanged"), batch.unchanged, "text-body-secondary"),
        (_("rows with errors"), batch.errors, "text-danger" if batch.errors else ""),
    ]
    if findings.get("unknown"):
        counts.append((_("not in the register"), findings["unknown"], "text-warning-emphasis"))
    if findings.get("skipped"):
        counts.append((_("not imported"), findings["skipped"], "text-body-secondary"))
    return counts


def _url_maker(name: str) -> Callable[[int], str]:
    """reverse() for many rows with one pattern: resolved once, then filled in per row."""
    sentinel = "2147483647"
    prefix, suffix = reverse(name, args=[int(sentinel)]).split(sentinel)
    return lambda pk: f"{prefix}{pk}{suffix}"


@register.simple_tag
def member_rows(members: Any, finance: bool) -> SafeString:
    """The rows of the member list, written here rather than in the template: the template
    engine spent a third of the page's time on fifty rows of seven cells."""
    url = _url_maker("members:member_detail")
    return format_html_join(
        "\n",
        '<tr><td><a href="{}">{}, {}</a></td><td>{}</td><td>{} {}</td><td>{}</td>'
        '<td><span class="badge status-{}">{}</span></td>{}<td>{}</td></tr>',
        (
            (
                url(member.pk),
                member.last_name,
                member.first_name,
                member.membership_number,
                member.postal_code,
                member.city,
                member.division.name,
                member.status,
                member.get_status_display(),
                _dues_cell(member) if finance else "",
                date_format(member.joined_on, "SHORT_DATE_FORMAT"),
            )
            for member in members
        ),
    )


def _dues_cell(member: Any) -> SafeString:
    owing = (
        format_html(' <span class="small text-danger">{} €</span>', floatformat(member.balance, 2))
        if member.balance < 0
        else ""
    )
    return format_html(
        '<td><span class="badge payment-{}">{}</span>{}</td>',
        member.payment_status,
        member.get_payment_status_display(),
        owing,
    )


@register.simple_tag
def division_rows(children: list[tuple[Any, str]]) -> SafeString:
    """The dashboard's table of sub-divisions (a state has dozens): see member_rows."""
    url = _url_maker("members:division_detail")
    return format_html_join(
        "\n",
        '<tr><td><a href="{}">{}</a></td><td class="text-end">{}</td>'
        '<td class="text-end">{}</td><td class="text-end">{}</td>'
        '<td><svg class="spark" viewBox="0 0 120 28" width="120" height="28" aria-hidden="true">'
        '<polyline points="{}"></polyline></svg></td></tr>',
        (
            (
                url(figures.division.pk),
                figures.division.name,
                intcomma(figures.members),
                intcomma(figures.entries[365]),
                intcomma(figures.exits[365]),
                spark,
            )
            for figures, spark in children
        ),
    )
