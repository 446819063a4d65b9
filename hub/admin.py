from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from hub.models import Flow, Link


@admin.register(Flow)
class FlowAdmin(SimpleHistoryAdmin):
    list_display = ["name", "source", "topic", "mapping", "target", "target_action", "enabled"]
    list_filter = ["enabled", "source", "target"]
    search_fields = ["name", "description"]
    list_select_related = ["source", "target", "mapping"]

    @admin.display(description="source event")
    def topic(self, obj):
        return f"{obj.source_entity}.{obj.source_event}"


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ["entity", "source_connection", "source_id", "target_connection", "target_entity", "target_id", "flow",
                    "created_at"]
    list_filter = ["entity", "source_connection", "target_connection"]
    search_fields = ["source_id", "target_id"]
    list_select_related = ["source_connection", "target_connection", "flow"]

    def has_change_permission(self, request, obj=None):
        return False
