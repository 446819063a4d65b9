import json

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.db.models import Count, Max, Min
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from hub import replay as replays
from monitoring import search
from monitoring.models import AlertRule, InboundEvent, SyncAttempt, SyncRecord


def _pretty(value) -> str:
    return format_html("<pre style='white-space:pre-wrap;max-width:100em'>{}</pre>",
                       json.dumps(value, indent=2, ensure_ascii=False, default=str))


class ReadOnlyAdmin(admin.ModelAdmin):
    """The log is written by the engine only; people read it and replay from it."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the log is kept whole; retention empties old payloads, nobody deletes rows


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
    search_fields = ["source_id", "idempotency_key"]  # searched by monitoring.search, fast at millions of rows
    search_help_text = (f"A record id or webhook id (exact), or any text of the newest {search.RECENT:,} "
                        "events' payloads")
    date_hierarchy = "received_at"
    list_select_related = ["connection"]
    # No second COUNT(*) of the whole table for "N results (M total)": ~50-100 ms each at 1M rows (bench/growth.py).
    show_full_result_count = False
    fields = ["connection", "topic", "source_id", "idempotency_key", "status", "error", "received_at",
              "processed_at", "headers_pretty", "body_pretty"]
    readonly_fields = fields
    inlines = [SyncRecordInline]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(pk__in=search.event_ids(search_term)), False

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
    change_list_template = "admin/monitoring/syncrecord/change_list.html"
    list_filter = ["status", "flow", "flow__source", "flow__target", "flow__source_entity",
                   ("created_at", admin.DateFieldListFilter)]
    # Any id a person has in hand: store order id, M3 order number, a PrestaShop reference or a
    # customer's e-mail (both inside the event as received).
    search_fields = ["source_id", "target_id", "error", "event__body"]  # searched by monitoring.search
    search_help_text = (f"An id in either system (exact), or a reference, e-mail or error text among the newest "
                        f"{search.RECENT:,} records")
    date_hierarchy = "created_at"
    list_select_related = ["flow"]
    # No second COUNT(*) of the whole table for "N results (M total)": ~50-100 ms each at 1M rows (bench/growth.py).
    show_full_result_count = False
    fields = ["flow", "event", "source_id", "target_id", "status", "error", "ignored_reason", "attempt_count",
              "mapping_version", "replay_mapping_version",
              "edit_and_replay", "links_made", "mapped_pretty", "override_pretty", "created_at", "updated_at",
              "synced_at"]
    readonly_fields = fields
    inlines = [SyncAttemptInline]
    actions = ["replay"]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        return queryset.filter(pk__in=search.record_ids(search_term)), False

    @admin.display(description="error")
    def error_short(self, obj):
        return obj.error[:120]

    @admin.display(description="replayed with mapping version")
    def replay_mapping_version(self, obj):
        from hub.models import ReplayVersion

        chosen = ReplayVersion.objects.filter(record=obj).first()
        return f"v{chosen.number} (chosen by {chosen.chosen_by or '?'})" if chosen else "the published one"

    @admin.display(description="links")
    def links_made(self, obj):
        from hub.models import Link

        links = Link.objects.filter(source_connection=obj.flow.source_id, entity=obj.flow.source_entity,
                                    source_id=obj.source_id).select_related("target_connection")
        return format_html_join(", ", "{} {} = {} {} ({})", (
            (obj.flow.source, obj.source_id, link.target_connection, link.target_id, link.target_entity or "record")
            for link in links)) or "none"

    @admin.display(description="fix the source")
    def edit_and_replay(self, obj):
        if obj.status == SyncRecord.Status.SYNCED:
            return "synced; nothing to fix"
        url = reverse("admin:monitoring_syncrecord_edit_replay", args=[obj.pk])
        return format_html('<a class="button" href="{}">Edit the source record and replay</a>', url)

    @admin.display(description="corrected source record (used instead of the event's)")
    def override_pretty(self, obj):
        if obj.source_override is None:
            return "none: the event's record is used"
        return format_html("{} (by {})", _pretty(obj.source_override), obj.source_override_by or "?")

    def get_urls(self):
        return [path("replay-matching/", self.admin_site.admin_view(self.replay_matching_view),
                     name="monitoring_syncrecord_replay_matching"),
                path("<int:record_id>/edit-replay/", self.admin_site.admin_view(self.edit_replay_view),
                     name="monitoring_syncrecord_edit_replay"),
                path("error-groups/", self.admin_site.admin_view(self.error_groups_view),
                     name="monitoring_syncrecord_error_groups"),
                *super().get_urls()]

    def lookup_allowed(self, lookup, value, request=None):
        return (lookup in ("error_group", "flow__id__exact", "created_at__gte", "created_at__lte", "created_at__lt")
                or super().lookup_allowed(lookup, value, request))

    def error_groups_view(self, request):
        """Failures grouped by flow and cause, with counts and first/last seen; replay or ignore a group."""
        failed = SyncRecord.objects.filter(status=SyncRecord.Status.FAILED)
        if request.method == "POST":
            if not self.has_replay_permission(request):
                self.message_user(request, "Replaying or ignoring needs the replay permission.", messages.ERROR)
                return redirect("admin:monitoring_syncrecord_error_groups")
            group = failed.filter(flow_id=request.POST.get("flow"), error_group=request.POST.get("error_group", ""))
            if request.POST.get("do") == "ignore":
                reason = request.POST.get("reason", "").strip()
                if not reason:
                    self.message_user(request, "Say why the group is ignored.", messages.ERROR)
                    return redirect("admin:monitoring_syncrecord_error_groups")
                ignored = group.update(status=SyncRecord.Status.IGNORED, ignored_reason=f"{reason} ({request.user})")
                self.message_user(request, f"Ignored {ignored} record(s).", messages.SUCCESS)
            else:
                ids = replays.replay(group, by=request.user.get_username())
                self.message_user(request, f"Replaying {len(ids)} record(s).", messages.SUCCESS)
            return redirect("admin:monitoring_syncrecord_error_groups")
        groups = (failed.values("flow_id", "flow__name", "error_group")
                  .annotate(count=Count("id"), first_seen=Min("created_at"), last_seen=Max("updated_at"),
                            example=Max("error"))
                  .order_by("-count", "-last_seen"))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "groups": groups,
                   "title": "Error groups", "can_act": self.has_replay_permission(request)}
        return render(request, "admin/monitoring/error_groups.html", context)

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        replay_url = reverse("admin:monitoring_syncrecord_replay_matching") + (f"?{query}" if query else "")
        extra_context = {**(extra_context or {}), "error_groups_url": reverse("admin:monitoring_syncrecord_error_groups"),
                         "replay_matching_url": replay_url if self.has_replay_permission(request) else ""}
        return super().changelist_view(request, extra_context)

    def matching_replayable(self, request):
        """The records the change list shows with the request's filters and search, that a bulk replay
        sends again: the failed ones, or those of the status filtered on when it is replayable."""
        records = self.get_changelist_instance(request).get_queryset(request)
        if "status__exact" not in request.GET:
            records = records.filter(status=SyncRecord.Status.FAILED)
        return records.filter(status__in=replays.REPLAYABLE)

    def replay_matching_view(self, request):
        """Replay all matching the current filters: a confirmation page with the count, then the replay."""
        changelist = reverse("admin:monitoring_syncrecord_changelist")
        back = changelist + (f"?{request.GET.urlencode()}" if request.GET else "")
        if not self.has_replay_permission(request):
            self.message_user(request, "Replaying needs the replay permission.", messages.ERROR)
            return redirect(back)
        try:
            records = self.matching_replayable(request)
        except IncorrectLookupParameters:
            self.message_user(request, "These filters are not understood; filter the list again.", messages.ERROR)
            return redirect(changelist)
        count = records.count()
        form = ReplayVersionForm(request.POST or None, versions=_versions_of(records))
        if request.method == "POST" and form.is_valid():
            try:
                ids = replays.replay(records, mapping_version=form.cleaned_data["mapping_version"],
                                     by=request.user.get_username())
            except replays.ReplayError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return redirect(back)
            more = f" (the first {len(ids)} of {count}; replay again for the rest)" if len(ids) < count else ""
            self.message_user(request, f"Replaying {len(ids)} record(s){more}.", messages.SUCCESS)
            return redirect(back)
        statuses = sorted(set(records.values_list("status", flat=True)[:1000]))
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "count": count, "form": form,
                   "statuses": statuses, "back": back, "title": "Replay all matching the current filters",
                   "filters": [(name, value) for name, value in request.GET.items() if name not in ("o", "p")]}
        return render(request, "admin/monitoring/replay_matching.html", context)

    def edit_replay_view(self, request, record_id):
        """The operator corrects the source record (JSON, checked) and replays; the event is kept as sent."""
        record = get_object_or_404(SyncRecord.objects.select_related("event__connection", "flow"), pk=record_id)
        if not self.has_replay_permission(request):
            return redirect("admin:monitoring_syncrecord_change", record_id)
        versions = _versions_of(SyncRecord.objects.filter(pk=record.pk))
        if request.method == "POST":
            form = SourceRecordForm(request.POST, versions=versions)
            if form.is_valid():
                SyncRecord.objects.filter(pk=record.pk).update(
                    source_override=form.cleaned_data["record"], source_override_by=request.user.get_username())
                number = form.cleaned_data["mapping_version"]
                replays.replay(SyncRecord.objects.filter(pk=record.pk), mapping_version=number,
                               by=request.user.get_username())
                with_version = f" with mapping version {number}" if number is not None else ""
                self.message_user(request, f"Corrected record saved; replaying{with_version}.", messages.SUCCESS)
                return redirect("admin:monitoring_syncrecord_change", record.pk)
        else:
            form = SourceRecordForm(versions=versions, initial={
                "record": json.dumps(_current_source(record), indent=2, ensure_ascii=False)})
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "record": record, "form": form,
                   "title": f"Edit and replay {record}"}
        return render(request, "admin/monitoring/edit_replay.html", context)

    def has_replay_permission(self, request):
        """Replaying writes to other systems: it takes its own permission (the Operator role has it)."""
        return request.user.has_perm("monitoring.replay_syncrecord")

    @admin.display(description="mapped output (last attempt)")
    def mapped_pretty(self, obj):
        return _pretty(obj.mapped)

    @admin.action(description="Replay selected records", permissions=["replay"])
    def replay(self, request, queryset):
        ids = replays.replay(queryset, by=request.user.get_username())
        skipped = queryset.count() - len(ids)
        note = f" ({skipped} already synced, left alone)" if skipped else ""
        self.message_user(request, f"Replaying {len(ids)} record(s){note}.", messages.SUCCESS)


class ReplayVersionForm(forms.Form):
    """Which mapping version a replay maps with: the published one, or an earlier (or draft-published) one."""

    mapping_version = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None,
        help_text="The published version unless you choose another; the record keeps the choice for its retries.")

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mapping_version"].choices = [("", "the published version")] + [
            (number, f"v{number}" + (f" ({note})" if note else "")) for number, note in versions]


def _versions_of(records) -> list[tuple[int, str]]:
    """Version numbers every mapping behind the records has (newest first), with their notes."""
    from mappings.models import MappingVersion

    mapping_ids = set(records.values_list("flow__mapping_id", flat=True).distinct()[:50])
    if not mapping_ids:
        return []
    rows = MappingVersion.objects.filter(mapping_id__in=mapping_ids).values_list("mapping_id", "number", "note")
    by_number: dict[int, set] = {}
    notes: dict[int, str] = {}
    for mapping_id, number, note in rows:
        by_number.setdefault(number, set()).add(mapping_id)
        notes[number] = note if len(mapping_ids) == 1 else ""
    return sorted(((n, notes[n]) for n, ids in by_number.items() if ids == mapping_ids), reverse=True)


class SourceRecordForm(ReplayVersionForm):
    record = forms.CharField(widget=forms.Textarea(attrs={"rows": 30, "cols": 100, "style": "font-family: monospace"}),
                             help_text="The source record as JSON. The event keeps what the sender sent.")
    field_order = ["record", "mapping_version"]

    def clean_record(self):
        try:
            value = json.loads(self.cleaned_data["record"])
        except ValueError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise forms.ValidationError("the source record must be a JSON object")
        return value


def _current_source(record: SyncRecord) -> dict:
    """What the next attempt would map: the correction if there is one, else the event's record."""
    if record.source_override is not None:
        return record.source_override
    from hub.pipeline import source_record

    try:
        return source_record(record.event)
    except Exception as exc:  # the source may be unreachable now; the operator still gets the raw body
        return {"_could_not_read_the_source": str(exc), "raw_body": record.event.body}


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "flow", "connection", "threshold", "window_minutes", "enabled", "firing",
                    "last_changed_at"]
    list_filter = ["kind", "enabled", "firing"]
