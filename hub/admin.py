from django.contrib import admin, messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from hub import backfill as backfills
from hub import polling
from hub.models import Backfill, Flow, Link


@admin.register(Flow)
class FlowAdmin(SimpleHistoryAdmin):
    list_display = ["name", "source", "topic", "mapping", "target", "target_action", "enabled", "schedule",
                    "backfill_progress"]
    list_filter = ["enabled", "source", "target"]
    search_fields = ["name", "description"]
    list_select_related = ["source", "target", "mapping"]
    readonly_fields = ["next_poll", "backfill_progress", "backfill_buttons"]
    actions = ["start_backfill", "pause_backfill"]

    @admin.display(description="source event")
    def topic(self, obj):
        return f"{obj.source_entity}.{obj.source_event}"

    @admin.display(description="polls")
    def schedule(self, obj):
        if obj.poll_interval:
            return f"every {obj.poll_interval} s"
        return f"cron {obj.poll_cron}" if obj.poll_cron else "-"

    @admin.display(description="next poll")
    def next_poll(self, obj):
        if not obj.pk or not obj.polled:
            return "not polled"
        return polling.next_poll_at(obj) if obj.last_polled_at else "at the next scheduler tick (never polled)"

    @admin.display(description="backfill")
    def backfill_progress(self, obj):
        # The list shows the latest of each flow; one query per row is fine for a list of flows.
        latest = backfills.latest(obj) if obj.pk else None
        return latest.summary if latest else "-"

    @admin.display(description="initial load / backfill")
    def backfill_buttons(self, obj):
        if not obj.pk:
            return "save the flow first"
        url = reverse("admin:hub_flow_backfill", args=[obj.pk])
        latest = backfills.latest(obj)
        running = latest is not None and latest.status == Backfill.Status.RUNNING
        label = "Pause backfill" if running else (
            "Resume backfill" if latest and latest.status in (Backfill.Status.PAUSED, Backfill.Status.FAILED)
            else "Start backfill")
        return format_html('<a class="button" href="{}">{}</a> <span class="help">Reads every record of the source '
                           'from the beginning into events, page by page, beside the normal poll.</span>', url, label)

    def get_urls(self):
        return [path("<int:flow_id>/backfill/", self.admin_site.admin_view(self.backfill_view), name="hub_flow_backfill"),
                *super().get_urls()]

    def has_backfill_permission(self, request, obj=None):
        """A backfill makes as many events as the source has records: who may change the flow may start it."""
        return request.user.has_perm("hub.change_flow")

    def backfill_view(self, request, flow_id):
        """Start, resume or pause the flow's backfill (a confirmation page, then a POST)."""
        flow = get_object_or_404(Flow.objects.select_related("source"), pk=flow_id)
        change_url = reverse("admin:hub_flow_change", args=[flow.pk])
        if not self.has_backfill_permission(request):
            self.message_user(request, "Backfills need the permission to change flows.", messages.ERROR)
            return redirect(change_url)
        latest = backfills.latest(flow)
        if request.method == "POST":
            if request.POST.get("do") == "pause":
                paused = backfills.pause(flow)
                self.message_user(request, f"Backfill paused: {paused.summary}." if paused else "No backfill runs.",
                                  messages.SUCCESS)
            else:
                self._start(request, flow)
            return redirect(change_url)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "flow": flow, "latest": latest,
                   "running": latest is not None and latest.status == Backfill.Status.RUNNING,
                   "title": f"Backfill of {flow}"}
        return render(request, "admin/hub/flow/backfill.html", context)

    def _start(self, request, flow) -> None:
        try:
            started = backfills.start(flow, by=request.user.get_username())
        except backfills.BackfillError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Backfill of {flow} queued ({started.summary}).", messages.SUCCESS)

    @admin.action(description="Start (or resume) the backfill of the selected flows", permissions=["backfill"])
    def start_backfill(self, request, queryset):
        for flow in queryset.select_related("source"):
            self._start(request, flow)

    @admin.action(description="Pause the backfill of the selected flows", permissions=["backfill"])
    def pause_backfill(self, request, queryset):
        paused = [flow for flow in queryset if backfills.pause(flow)]
        self.message_user(request, f"Paused {len(paused)} backfill(s).", messages.SUCCESS)


@admin.register(Backfill)
class BackfillAdmin(admin.ModelAdmin):
    list_display = ["flow", "status", "pages", "records", "events", "started_by", "started_at", "updated_at",
                    "finished_at", "error"]
    list_filter = ["status", "flow"]
    list_select_related = ["flow"]

    def has_add_permission(self, request):
        return False  # started from the flow (its page, the list's action or the API)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ["entity", "source_connection", "source_id", "target_connection", "target_entity", "target_id", "flow",
                    "created_at"]
    list_filter = ["entity", "source_connection", "target_connection"]
    search_fields = ["source_id", "target_id"]
    list_select_related = ["source_connection", "target_connection", "flow"]

    def has_change_permission(self, request, obj=None):
        return False
