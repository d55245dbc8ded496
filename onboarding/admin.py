"""The federal office's view of circles: configuration and appointments, never the
confidential notes, veto reasons or mediation notes (those stay with the coordinators)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from members.services import record_audit
from onboarding.models import (
    Candidate,
    Channel,
    ChannelAccess,
    Circle,
    CircleMembership,
    Mediation,
    Removal,
)


class FederalOnly:
    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("members.access_all_divisions")

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


class MembershipInline(admin.TabularInline):
    model = CircleMembership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "joined_on", "ended_on", "removed"]


class ChannelInline(admin.TabularInline):
    model = Channel
    extra = 1


@admin.register(Circle)
class CircleAdmin(FederalOnly, admin.ModelAdmin):
    list_display = [
        "name",
        "division",
        "veto_days",
        "meetings_required",
        "veto_blocks",
        "mediations_before_removal",
    ]
    search_fields = ["name"]
    inlines = [MembershipInline, ChannelInline]

    def save_model(self, request: HttpRequest, obj: Circle, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        record_audit(
            actor=request.user,
            action="onboarding.circle_saved",
            obj=obj,
            summary=f"Circle {obj} {'changed' if change else 'created'} in the admin",
            data={"changed": form.changed_data},
        )

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        for obj in [*formset.new_objects, *[o for o, _ in formset.changed_objects]]:
            record_audit(
                actor=request.user,
                action="onboarding.admin_saved",
                obj=obj,
                summary=f"{obj._meta.verbose_name}: {obj} saved in the admin",
            )
        for obj in formset.deleted_objects:
            record_audit(
                actor=request.user,
                action="onboarding.admin_deleted",
                obj=obj,
                summary=f"{obj._meta.verbose_name}: {obj} deleted in the admin",
            )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnly(FederalOnly):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# Apps that build on onboarding add actions on candidates here (erasure on request).
CANDIDATE_ACTIONS: list[Any] = []


@admin.register(Candidate)
class CandidateAdmin(ReadOnly, admin.ModelAdmin):
    actions = CANDIDATE_ACTIONS
    list_display = ["__str__", "circle", "state", "veto_ends_on", "admitted_on"]
    list_filter = ["state", "circle"]
    search_fields = ["last_name", "first_name", "email"]
    # No notes: they are the coordinators'.
    fields = [
        "circle",
        "first_name",
        "last_name",
        "email",
        "state",
        "veto_opened_on",
        "veto_ends_on",
        "admitted_on",
        "registered_by",
        "created_at",
    ]
    readonly_fields = fields


@admin.register(ChannelAccess)
class ChannelAccessAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["channel", "user", "action", "requested_at", "done_at", "done_by"]
    list_filter = ["action", "channel__circle"]


@admin.register(Mediation)
class MediationAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["subject", "circle", "opened_at", "closed_at"]
    fields = ["circle", "subject", "opened_by", "opened_at", "closed_at"]
    readonly_fields = fields


@admin.register(Removal)
class RemovalAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["user", "circle", "decided_by", "decided_on"]
