from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from finance import services
from finance.models import FeeRule


@admin.register(FeeRule)
class FeeRuleAdmin(admin.ModelAdmin):
    list_display = [
        "fee_class",
        "yearly_amount",
        "valid_from",
        "valid_until",
        "due_month",
        "due_day",
        "grace_days",
    ]
    list_filter = ["fee_class"]
    actions = ["run_dues_this_year"]

    @admin.action(description=_("Charge this year's dues for every member (only differences)"))
    def run_dues_this_year(self, request: HttpRequest, queryset: QuerySet[FeeRule]) -> None:
        result = services.run_dues(year=timezone.localdate().year, by=request.user)
        self.message_user(
            request,
            _(
                "Dues %(year)s: %(charged)s charged, %(corrected)s corrected, %(unchanged)s unchanged."
            )
            % {
                "year": result.year,
                "charged": result.charged,
                "corrected": result.corrected,
                "unchanged": result.unchanged,
            },
            messages.SUCCESS,
        )
