from django.contrib import admin

from ops.models import PendingTask


@admin.register(PendingTask)
class PendingTaskAdmin(admin.ModelAdmin):
    """Tasks kept while the broker was gone (monitoring: this list should be empty within a
    minute of Redis answering again). Read-only: the redispatch job sends them."""

    list_display = ["created_at", "name", "args", "error"]
    list_filter = ["name"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
