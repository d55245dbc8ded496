"""Who saw whose data: the access log.

Views say what they showed (`note`); the middleware writes it in one insert once the page
was served. A member's page names the member; a list its query and how many members it
showed, never the rows; an export the ids of every member in it, compressed into one value.
Admin pages of a member, or of a record that belongs to one (a payment, a mandate), are noted
by the middleware itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from pyroaring import BitMap

from members.models import AccessKind, AccessLog, Member

_NOTE_ATTR = "_musterrolle_access"


def note(
    request: HttpRequest,
    kind: AccessKind,
    *,
    member: Member | int | None = None,
    count: int | None = None,
    detail: str = "",
    member_ids: Iterable[int] | None = None,
) -> None:
    """Say what this request shows; written once the response is a success."""
    setattr(
        request,
        _NOTE_ATTR,
        {
            "kind": kind,
            "member_id": member.pk if isinstance(member, Member) else member,
            "count": count,
            "detail": detail[:300],
            "member_ids": encode_ids(member_ids) if member_ids is not None else None,
        },
    )


def record(
    user: Any,
    kind: AccessKind,
    *,
    path: str = "",
    member: Member | int | None = None,
    count: int | None = None,
    detail: str = "",
    member_ids: Iterable[int] | None = None,
) -> AccessLog:
    """Write an access at once (commands, exports made outside a request)."""
    return AccessLog.objects.create(
        user=user if getattr(user, "is_authenticated", False) else None,
        kind=kind,
        path=path[:300],
        member_id=member.pk if isinstance(member, Member) else member,
        count=count,
        detail=detail[:300],
        member_ids=encode_ids(member_ids) if member_ids is not None else None,
    )


def encode_ids(ids: Iterable[int]) -> bytes:
    """Member ids as a Roaring bitmap: a few bytes for a run of ids, about 80 kB for 200,000
    scattered ones; asking whether one id is in it reads it without unpacking the list."""
    bitmap = BitMap(ids)
    bitmap.run_optimize()
    return bitmap.serialize()


def decode_ids(blob: bytes | memoryview | None) -> BitMap:
    return BitMap.deserialize(bytes(blob)) if blob else BitMap()


def contains(blob: bytes | memoryview | None, member_id: int) -> bool:
    return member_id in decode_ids(blob)


def about(member: Member) -> QuerySet[AccessLog]:
    """Every access to this member's data still kept: their pages, and exports with them."""
    exports = [
        pk
        for pk, blob in AccessLog.objects.filter(member_ids__isnull=False)
        .values_list("pk", "member_ids")
        .iterator(chunk_size=50)
        if contains(blob, member.pk)
    ]
    return AccessLog.objects.filter(Q(member=member) | Q(pk__in=exports))


def _admin_note(request: HttpRequest, response: HttpResponse) -> dict[str, Any] | None:
    """The admin's pages of members and of records belonging to one, and its search for a
    member in a form (autocomplete)."""
    match = getattr(request, "resolver_match", None)
    if match is not None and match.url_name == "autocomplete":
        return _autocomplete_note(request, response)
    model_admin = getattr(getattr(match, "func", None), "model_admin", None)
    if model_admin is None:
        return None
    model = model_admin.model
    name = match.url_name or ""
    belongs = model is Member or any(
        f.is_relation and f.related_model is Member and f.name == "member"
        for f in model._meta.concrete_fields
    )
    if not belongs:
        return None
    if name.endswith("_changelist"):
        changelist = (getattr(response, "context_data", None) or {}).get("cl")
        count = getattr(changelist, "result_count", None)
        detail = f"{model._meta.model_name} {request.GET.urlencode()}".strip()
        return {"kind": AccessKind.LIST, "count": count, "detail": detail}
    object_id = match.kwargs.get("object_id", "")
    if not (name.endswith(("_change", "_history", "_delete")) and str(object_id).isdigit()):
        return None
    if model is Member:
        return {"kind": AccessKind.ADMIN, "member_id": int(object_id)}
    # Read in the same insert: the member of this payment, mandate or charge.
    member = Subquery(model._default_manager.filter(pk=object_id).values("member_id")[:1])
    return {"kind": AccessKind.ADMIN, "member_id": member}


def _autocomplete_note(request: HttpRequest, response: HttpResponse) -> dict[str, Any] | None:
    try:
        source = apps.get_model(request.GET["app_label"], request.GET["model_name"])
        target = source._meta.get_field(request.GET["field_name"]).remote_field.model
    except (KeyError, LookupError, FieldDoesNotExist, AttributeError):
        return None
    if target is not Member:
        return None
    try:
        count = len(json.loads(response.content)["results"])
    except (ValueError, KeyError, TypeError):
        count = None
    return {
        "kind": AccessKind.LIST,
        "count": count,
        "detail": f"search {request.GET.get('term', '')}",
    }


class AccessLogMiddleware:
    """Writes what a successful request showed of members' data, in one insert."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not 200 <= response.status_code < 300:
            return response
        noted = getattr(request, _NOTE_ATTR, None)
        if noted is None and request.method == "GET":
            noted = _admin_note(request, response)
        if noted is not None:
            noted["detail"] = (noted.get("detail") or "")[:300]
            AccessLog.objects.create(user=user, path=request.get_full_path()[:300], **noted)
        return response
