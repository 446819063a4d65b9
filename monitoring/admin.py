import json

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from hub import jobs
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord


def _pretty(value) -> str:
    return format_html("<pre style='white-space:pre-wrap;max-width:100em'>{}</pre>",
                       json.dumps(value, indent=2, ensure_ascii=False, default=str))


class ReadOnlyAdmin(admin.ModelAdmin):
    """The log is written by the engine only; people read it and replay from it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SyncRecordInline(admin.TabularInline):
    model = SyncRecord
    fields = ["flow", "status", "target_id", "attempt_count", "error"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False


@admin.register(InboundEvent)
class InboundEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "connection", "topic", "source_id", "status", "received_at", "processed_at"]
    list_filter = ["status", "connection", "topic"]
    search_fields = ["source_id", "idempotency_key"]
    date_hierarchy = "received_at"
    list_select_related = ["connection"]
    fields = ["connection", "topic", "source_id", "idempotency_key", "status", "error", "received_at",
              "processed_at", "headers_pretty", "body_pretty"]
    readonly_fields = fields
    inlines = [SyncRecordInline]

    @admin.display(description="headers")
    def headers_pretty(self, obj):
        return _pretty(obj.headers)

    @admin.display(description="body")
    def body_pretty(self, obj):
        try:
            return _pretty(json.loads(obj.body))
        except ValueError:
            return obj.body


class SyncAttemptInline(admin.StackedInline):
    model = SyncAttempt
    fields = ["number", "outcome", "error", "note", "mapping_version", "started_at", "duration_ms", "exchanges_pretty"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="calls (secrets redacted)")
    def exchanges_pretty(self, obj):
        return _pretty(obj.exchanges)


@admin.register(SyncRecord)
class SyncRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "flow", "source_id", "target_id", "status", "attempt_count", "error_short", "updated_at"]
    list_filter = ["status", "flow", "flow__source", "flow__target"]
    search_fields = ["source_id", "target_id", "error"]
    date_hierarchy = "created_at"
    list_select_related = ["flow"]
    fields = ["flow", "event", "source_id", "target_id", "status", "error", "attempt_count", "mapping_version",
              "mapped_pretty", "created_at", "updated_at", "synced_at"]
    readonly_fields = fields
    inlines = [SyncAttemptInline]
    actions = ["replay"]

    @admin.display(description="error")
    def error_short(self, obj):
        return obj.error[:120]

    @admin.display(description="mapped output (last attempt)")
    def mapped_pretty(self, obj):
        return _pretty(obj.mapped)

    @admin.action(description="Replay selected records")
    def replay(self, request, queryset):
        replayable = queryset.exclude(status=SyncRecord.Status.SYNCED)
        ids = list(replayable.values_list("id", flat=True))
        skipped = queryset.count() - len(ids)
        # Mark them pending first, so the list shows at once that they are on their way.
        replayable.update(status=SyncRecord.Status.PENDING)
        queued = []
        transaction.on_commit(lambda: queued.extend(i for i in ids if jobs.enqueue_replay(i)))
        note = f" ({skipped} already synced, left alone)" if skipped else ""
        self.message_user(request, f"Replaying {len(ids)} record(s){note}.", messages.SUCCESS)
