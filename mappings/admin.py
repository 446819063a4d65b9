"""The integrator's mapping screens: draft rules, publish / diff / roll back, preview, regression,
suggestions, and value maps with CSV import and export.

Who may do what (the roles are groups, monitoring/migrations/0002_roles.py): viewing a mapping, its
versions and diffs needs the view permission; preview, regression and suggestions (which read
recorded events and may fetch records from the source system) need ``change_mapping``; publishing
and rolling back need ``mappings.publish_mapping``.
"""

import hashlib
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin

from mappings import csv_io, expressions, transforms, versions
from mappings.engine import MappingError
from mappings.models import Mapping, MappingRule, MappingSuggestion, MappingVersion, ValueMap, ValueMapEntry

REGRESSION_DEFAULT, REGRESSION_MAX = 50, 1000


def _json(value) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def _value(value) -> str:
    """One value as a diff shows it: JSON, or '(absent)'."""
    return str(value) if value is versions.MISSING else json.dumps(value, ensure_ascii=False, default=str)


def _snapshot_hash(snapshot: dict) -> str:
    return hashlib.sha256(json.dumps(snapshot, sort_keys=True, default=str).encode()).hexdigest()


class MappingRuleForm(forms.ModelForm):
    """Each rule's chain and expressions are checked when the draft is saved, so a typo is told at
    once, on its row, not first at publish time."""

    class Meta:
        model = MappingRule
        fields = "__all__"
        help_texts = {"transforms": mark_safe(  # noqa: S308 - our own fixed text
            "Chain applied in order, e.g. <code>trim | upper | text:36</code>; the list of transforms is under "
            "<em>Transforms</em> below the rules")}

    def clean(self):
        data = super().clean()
        names = {name: {} for name in ValueMap.objects.values_list("name", flat=True)}
        try:
            transforms.build_chain(data.get("transforms") or "", transforms.Context(value_maps=names))
        except ValueError as exc:
            self.add_error("transforms", str(exc))
        for field in ("condition", "expression"):
            if data.get(field):
                try:
                    expressions.compile_expression(data[field], names)
                except ValueError as exc:
                    self.add_error(field, str(exc))
        return data


class MappingRuleInline(admin.TabularInline):
    model = MappingRule
    form = MappingRuleForm
    fk_name = "mapping"
    extra = 1
    fields = ["position", "target", "source", "constant", "default", "required", "transforms", "condition", "expression",
              "child"]


class PublishForm(forms.Form):
    note = forms.CharField(max_length=200, required=False, help_text="What changed and why, for the version list")
    draft_hash = forms.CharField(widget=forms.HiddenInput)


class PreviewForm(forms.Form):
    event = forms.TypedChoiceField(coerce=int, required=False, empty_value=None,
                                   help_text="A recorded event of a flow using this mapping")
    sample = forms.CharField(widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "class": "vLargeTextField"}),
                             required=False, help_text="Or paste a source record (JSON object)")

    def __init__(self, *args, event_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["event"].choices = [("", "---------"), *event_choices]

    def clean_sample(self):
        text = self.cleaned_data["sample"].strip()
        if not text:
            return None
        try:
            record = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"not valid JSON: {exc}") from None
        if not isinstance(record, dict):
            raise forms.ValidationError("the source record must be a JSON object { ... }")
        return record

    def clean(self):
        data = super().clean()
        if not self.errors and data.get("event") is None and data.get("sample") is None:
            raise forms.ValidationError("Choose a recorded event or paste a sample record.")
        return data


@admin.register(Mapping)
class MappingAdmin(SimpleHistoryAdmin):
    list_display = ["name", "version", "draft_state", "rule_count", "updated_at"]
    search_fields = ["name", "description"]
    readonly_fields = ["version", "updated_at"]
    inlines = [MappingRuleInline]
    change_form_template = "admin/mappings/mapping/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("published")

    @admin.display(description="rules")
    def rule_count(self, obj):
        return obj.rules.count()

    @admin.display(description="draft")
    def draft_state(self, obj):
        if not obj.published_id:
            return mark_safe('<strong style="color:#ba2121">never published</strong>')
        if versions.draft_differs(obj):
            return mark_safe('<strong style="color:#ba2121">draft differs from published</strong>')
        return "same as published"

    # --- permissions ---------------------------------------------------------------------------

    def has_publish_permission(self, request):
        return request.user.has_perm("mappings.publish_mapping")

    def _mapping_for(self, request, pk, *, change=False) -> Mapping:
        mapping = get_object_or_404(Mapping.objects.select_related("published"), pk=pk)
        allowed = self.has_change_permission(request, mapping) if change else self.has_view_permission(request, mapping)
        if not allowed:
            raise PermissionDenied
        return mapping

    def _context(self, request, mapping, title, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, "original": mapping,
                "mapping": mapping, "title": title, "has_view_permission": True, **extra}

    # --- urls ----------------------------------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:pk>/publish/", view(self.publish_view), name="mappings_mapping_publish"),
            path("<int:pk>/diff/", view(self.diff_view), name="mappings_mapping_diff"),
            path("<int:pk>/rollback/<int:number>/", view(self.rollback_view), name="mappings_mapping_rollback"),
            path("<int:pk>/preview/", view(self.preview_view), name="mappings_mapping_preview"),
            path("<int:pk>/regression/", view(self.regression_view), name="mappings_mapping_regression"),
            path("<int:pk>/suggest/", view(self.suggest_view), name="mappings_mapping_suggest"),
            path("<int:pk>/suggestions/<int:suggestion_id>/", view(self.decide_view), name="mappings_mapping_decide"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        mapping = Mapping.objects.select_related("published").filter(pk=object_id).first()
        if mapping is not None:
            _, compile_error = versions.compile_draft(mapping)
            extra_context = {
                **(extra_context or {}),
                "versions": mapping.versions.only("number", "note", "created_by", "created_at"),
                "draft_differs": versions.draft_differs(mapping),
                "compile_error": compile_error,
                "suggestions": mapping.suggestions.filter(status=MappingSuggestion.Status.PENDING),
                "can_publish": self.has_publish_permission(request),
                "can_change": self.has_change_permission(request, mapping),
            }
        extra_context = {**(extra_context or {}), "transform_help": sorted(transforms.REGISTRY.items())}
        return super().change_view(request, object_id, form_url, extra_context)

    # --- publish, diff, rollback ---------------------------------------------------------------

    def publish_view(self, request, pk):
        """Review what publishing changes (diff with the published version), then publish with a note."""
        mapping = self._mapping_for(request, pk)
        error = ""
        try:
            snapshot = mapping.draft_snapshot()
        except MappingError as exc:
            snapshot, error = None, str(exc)
        if request.method == "POST":
            if not self.has_publish_permission(request):
                raise PermissionDenied
            form = PublishForm(request.POST)
            if snapshot is not None and form.is_valid():
                if form.cleaned_data["draft_hash"] != _snapshot_hash(snapshot):
                    error = "The draft (or a value map it uses) changed while you were reviewing it; review it again."
                elif mapping.published_id and not versions.diff(mapping.published.snapshot, snapshot):
                    error = f"The draft is the same as v{mapping.version}: nothing to publish."
                else:
                    try:
                        version = mapping.publish(snapshot=snapshot, by=request.user.get_username(),
                                                  note=form.cleaned_data["note"])
                    except MappingError as exc:
                        error = str(exc)
                    else:
                        self.message_user(request, f"Published {mapping} v{version.number}: flows use it from now on.",
                                          messages.SUCCESS)
                        return redirect("admin:mappings_mapping_change", mapping.pk)
        if snapshot is not None and not error:
            _, error = versions.compile_draft(mapping)
        form = PublishForm(initial={"draft_hash": _snapshot_hash(snapshot) if snapshot else "",
                                    "note": request.POST.get("note", "")})
        changes = versions.diff(mapping.published.snapshot if mapping.published_id else None, snapshot) if snapshot else None
        context = self._context(request, mapping, f"Publish {mapping}", form=form, error=error, changes=changes,
                                can_publish=self.has_publish_permission(request),
                                draft_hash=form.initial["draft_hash"])
        return render(request, "admin/mappings/mapping/publish.html", context, status=200)

    def _snapshot_of(self, mapping, which: str):
        """(label, snapshot) of 'draft', 'published' or a version number."""
        if which == "draft":
            return "draft", mapping.draft_snapshot()
        if which == "published":
            if not mapping.published_id:
                return "nothing published", None
            return f"v{mapping.published.number} (published)", mapping.published.snapshot
        version = get_object_or_404(MappingVersion, mapping=mapping, number=int(which) if which.isdigit() else -1)
        return f"v{version.number}" + (" (published)" if version.pk == mapping.published_id else ""), version.snapshot

    def diff_view(self, request, pk):
        """Diff of any two of: the draft, the published version, any version (?old=3&new=draft)."""
        mapping = self._mapping_for(request, pk)
        old, new = request.GET.get("old", "published"), request.GET.get("new", "draft")
        try:
            old_label, old_snapshot = self._snapshot_of(mapping, old)
            new_label, new_snapshot = self._snapshot_of(mapping, new)
        except MappingError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return redirect("admin:mappings_mapping_change", mapping.pk)
        choices = [("draft", "draft"), *[(str(n), f"v{n}") for n in mapping.versions.values_list("number", flat=True)]]
        context = self._context(request, mapping, f"{mapping}: {old_label} → {new_label}",
                                changes=versions.diff(old_snapshot, new_snapshot), old=old, new=new,
                                old_label=old_label, new_label=new_label, choices=choices)
        return render(request, "admin/mappings/mapping/diff.html", context)

    def rollback_view(self, request, pk, number):
        """Publish an earlier version again as the next version, after showing what that changes."""
        mapping = self._mapping_for(request, pk)
        version = get_object_or_404(MappingVersion, mapping=mapping, number=number)
        if request.method == "POST":
            if not self.has_publish_permission(request):
                raise PermissionDenied
            if version.pk == mapping.published_id:
                self.message_user(request, f"v{number} is already the published version.", messages.WARNING)
                return redirect("admin:mappings_mapping_change", mapping.pk)
            try:
                new = versions.rollback(mapping, number, by=request.user.get_username())
            except MappingError as exc:
                self.message_user(request, f"v{number} cannot be published again: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"Published v{new.number} = rollback to v{number}. The draft rules are "
                                           "unchanged.", messages.SUCCESS)
            return redirect("admin:mappings_mapping_change", mapping.pk)
        changes = versions.diff(mapping.published.snapshot if mapping.published_id else None, version.snapshot)
        context = self._context(request, mapping, f"Roll {mapping} back to v{number}", version=version, changes=changes,
                                can_publish=self.has_publish_permission(request),
                                is_published=version.pk == mapping.published_id)
        return render(request, "admin/mappings/mapping/rollback.html", context)

    # --- preview and regression ----------------------------------------------------------------

    def preview_view(self, request, pk):
        """Run the draft on a pasted record or a recorded event; the published version's output beside it."""
        mapping = self._mapping_for(request, pk, change=True)
        choices = versions.event_choices(mapping)
        draft_fn, compile_error = versions.compile_draft(mapping)
        result = sample = None
        form = PreviewForm(request.POST or None, event_choices=choices)
        if request.method == "POST" and form.is_valid() and draft_fn:
            event_id = form.cleaned_data["event"]
            if event_id is not None:
                sample = versions.sample_of_event(mapping, event_id)
            else:
                sample = versions.Sample(0, "pasted record", record=form.cleaned_data["sample"])
            if sample is None:
                form.add_error("event", "That event was not recorded by a flow using this mapping.")
            elif not sample.error:
                result = versions.preview(mapping, sample.record, draft_fn=draft_fn)
        context = self._context(
            request, mapping, f"Preview the draft of {mapping}", form=form, compile_error=compile_error,
            sample=sample, sample_json=_json(sample.record) if sample and sample.record is not None else "",
            result=result and self._shown_preview(result))
        return render(request, "admin/mappings/mapping/preview.html", context)

    @staticmethod
    def _shown_preview(result: versions.Preview) -> dict:
        def outcome(o):
            return None if o is None else {"ok": o.ok, "error": o.error, "json": _json(o.output) if o.ok else ""}
        return {"draft": outcome(result.draft), "published": outcome(result.published),
                "changes": [(p, _value(a), _value(b)) for p, a, b in result.changes]}

    def regression_view(self, request, pk):
        """Draft vs published on the last N recorded events of the mapping's flows, record by record."""
        mapping = self._mapping_for(request, pk, change=True)
        try:
            limit = max(1, min(REGRESSION_MAX, int(request.GET.get("n", REGRESSION_DEFAULT))))
        except ValueError:
            limit = REGRESSION_DEFAULT
        report = versions.regression(mapping, limit)
        rows = [{"kind": row.kind, "label": row.sample.label, "event_id": row.sample.event_id,
                 "unreadable": row.sample.error,
                 "published_error": row.published.error if row.published else "",
                 "draft_error": row.draft.error if row.draft else "",
                 "changes": [(p, _value(a), _value(b)) for p, a, b in row.changes]}
                for row in report.rows if row.kind != "same"]
        context = self._context(request, mapping, f"Regression: the draft of {mapping} against v{mapping.version}"
                                if mapping.published_id else f"Regression: the draft of {mapping}",
                                report=report, rows=rows, limit=limit, total=len(report.rows),
                                can_publish=self.has_publish_permission(request))
        return render(request, "admin/mappings/mapping/regression.html", context)

    # --- suggestions ---------------------------------------------------------------------------

    def suggest_view(self, request, pk):
        """Ask the suggester for rules (schemas + sample records + what was accepted before); store them pending."""
        mapping = self._mapping_for(request, pk, change=True)
        if request.method != "POST":
            return redirect("admin:mappings_mapping_change", mapping.pk)
        try:
            made = refresh_suggestions(mapping)
        except CannotSuggest as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"{made} suggestion(s) pending below." if made else
                              "No new suggestion: every target the suggester could match is mapped or decided.",
                              messages.SUCCESS if made else messages.INFO)
        return redirect(reverse("admin:mappings_mapping_change", args=[mapping.pk]) + "#suggestions")

    def decide_view(self, request, pk, suggestion_id):
        """Accept (a draft rule is made from it) or reject one pending suggestion."""
        mapping = self._mapping_for(request, pk, change=True)
        if request.method != "POST":
            return redirect("admin:mappings_mapping_change", mapping.pk)
        suggestion = get_object_or_404(MappingSuggestion, pk=suggestion_id, mapping=mapping,
                                       status=MappingSuggestion.Status.PENDING)
        decision = request.POST.get("decision")
        suggestion.decided_by, suggestion.decided_at = request.user.get_username(), timezone.now()
        if decision == "accept":
            position = (mapping.rules.aggregate(n=Max("position"))["n"] or 0) + 10
            steps = [step.strip() for step in suggestion.transforms.split("|") if step.strip()]
            suggestion.rule = MappingRule.objects.create(mapping=mapping, position=position, target=suggestion.target,
                                                         source=suggestion.source, transforms=" | ".join(steps))
            suggestion.status = MappingSuggestion.Status.ACCEPTED
            self.message_user(request, f"Draft rule {suggestion.rule} added; publish the mapping for flows to use it.",
                              messages.SUCCESS)
        elif decision == "reject":
            suggestion.status = MappingSuggestion.Status.REJECTED
            self.message_user(request, f"Rejected {suggestion.target} <- {suggestion.source}.", messages.SUCCESS)
        else:
            return redirect("admin:mappings_mapping_change", mapping.pk)
        suggestion.save()
        return redirect(reverse("admin:mappings_mapping_change", args=[mapping.pk]) + "#suggestions")


# --- suggestions ----------------------------------------------------------------------------------

SUGGESTION_SAMPLES = 20


class CannotSuggest(Exception):
    """The suggester lacks what it needs (schemas); the message says what to set."""


def _schema_names(mapping: Mapping) -> tuple[str, str]:
    """The mapping's schemas, else those of the first flow that uses it (connector kind + entity / action)."""
    from mappings import schemas

    source, target = mapping.source_schema, mapping.target_schema
    for flow in mapping.flows.select_related("source", "target"):
        source = source or schemas.for_source(flow.source.kind, flow.source_entity) or ""
        target = target or schemas.for_target(flow.target.kind, flow.target_action) or ""
    return source, target


def refresh_suggestions(mapping: Mapping) -> int:
    """Run the suggester and keep its proposals as pending MappingSuggestion rows; returns how many.

    It is given the schemas, sample records from the latest events of the mapping's flows, and the
    pairs this installation accepted (suggestions, and the rules of other mappings between the same
    schemas) or rejected. Targets the draft already maps and pairs decided before are not proposed
    again; pending rows the suggester no longer proposes are dropped."""
    from mappings import schemas
    from mappings.suggest import suggest

    source_name, target_name = _schema_names(mapping)
    if not (source_name and target_name):
        raise CannotSuggest("Set the mapping's source schema and target schema first (e.g. xcart.order and "
                            "infor_m3.sales_order): suggestions are made between two entity schemas.")
    try:
        source_schema, target_schema = schemas.get(source_name), schemas.get(target_name)
    except KeyError as exc:
        raise CannotSuggest(exc.args[0]) from None
    same_schemas = Mapping.objects.filter(source_schema=source_name, target_schema=target_name)
    decided = MappingSuggestion.objects.exclude(status=MappingSuggestion.Status.PENDING)
    accepted = {*decided.filter(status=MappingSuggestion.Status.ACCEPTED).values_list("target", "source"),
                *MappingRule.objects.filter(mapping__in=same_schemas).exclude(mapping=mapping).exclude(source="")
                .values_list("target", "source")}
    rejected = set(decided.filter(status=MappingSuggestion.Status.REJECTED)
                   .filter(mapping__in=[mapping.pk, *same_schemas.values_list("pk", flat=True)])
                   .values_list("target", "source"))
    records = [s.record for s in versions.samples(mapping, SUGGESTION_SAMPLES) if s.record is not None]
    proposed = suggest(source_schema, target_schema, samples=records or None, accepted=sorted(accepted),
                       rejected=sorted(rejected))

    mapped = set(mapping.rules.values_list("target", flat=True))
    settled = set(mapping.suggestions.exclude(status=MappingSuggestion.Status.PENDING).values_list("target", "source"))
    kept = []
    for proposal in proposed:
        if proposal.target in mapped or (proposal.target, proposal.source) in settled:
            continue
        row, _ = MappingSuggestion.objects.update_or_create(
            mapping=mapping, target=proposal.target, source=proposal.source,
            defaults={"transforms": proposal.transforms or "", "confidence": proposal.confidence,
                      "reason": proposal.reason[:300]})
        kept.append(row.pk)
    mapping.suggestions.filter(status=MappingSuggestion.Status.PENDING).exclude(pk__in=kept).delete()
    return len(kept)


# --- value maps -----------------------------------------------------------------------------------


class ValueMapEntryInline(admin.TabularInline):
    model = ValueMapEntry
    extra = 1


class CsvImportForm(forms.Form):
    file = forms.FileField(help_text="Two columns: source,target; a header line is optional; UTF-8")
    mode = forms.ChoiceField(choices=[("merge", "merge: add and update, keep entries the file does not mention"),
                                      ("replace", "replace: the value map becomes exactly the file")],
                             widget=forms.RadioSelect, initial="merge")


def mappings_using(value_map: ValueMap) -> list[dict]:
    """The mappings whose draft or published version uses the value map, and whether what they
    publish is the value map as it is now (a value map change reaches flows only on publish)."""
    current, used = value_map.as_dict(), []
    for mapping in Mapping.objects.select_related("published"):
        try:
            in_draft = value_map.name in mapping.draft_snapshot()["value_maps"]
        except MappingError:
            in_draft = False
        published = (mapping.published.snapshot.get("value_maps") or {}).get(value_map.name) if mapping.published_id else None
        if not in_draft and published is None:
            continue
        if published is None:
            state = "its published version does not use it yet: publish the mapping"
        elif published != current:
            state = f"published v{mapping.version} has other entries: publish the mapping again to use these"
        else:
            state = f"published v{mapping.version} uses these entries"
        used.append({"mapping": mapping, "state": state, "current": published == current,
                     "in_draft": in_draft})
    return used


@admin.register(ValueMap)
class ValueMapAdmin(SimpleHistoryAdmin):
    list_display = ["name", "description"]
    search_fields = ["name", "entries__source_value", "entries__target_value"]
    inlines = [ValueMapEntryInline]
    change_form_template = "admin/mappings/valuemap/change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        return [path("<int:pk>/import-csv/", view(self.import_view), name="mappings_valuemap_import"),
                path("<int:pk>/export-csv/", view(self.export_view), name="mappings_valuemap_export"),
                *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        value_map = ValueMap.objects.filter(pk=object_id).first()
        if value_map is not None:
            extra_context = {**(extra_context or {}), "used_by": mappings_using(value_map)}
        return super().change_view(request, object_id, form_url, extra_context)

    def export_view(self, request, pk):
        value_map = get_object_or_404(ValueMap, pk=pk)
        if not self.has_view_permission(request, value_map):
            raise PermissionDenied
        response = HttpResponse(csv_io.export_csv(value_map), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = content_disposition_header(True, f"{value_map.name}.csv")
        return response

    def import_view(self, request, pk):
        value_map = get_object_or_404(ValueMap, pk=pk)
        if not self.has_change_permission(request, value_map):
            raise PermissionDenied
        report = None
        form = CsvImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            report = csv_io.import_csv(value_map, form.cleaned_data["file"].read(), form.cleaned_data["mode"])
            if report.ok:
                self.message_user(request, f"Imported into {value_map}: {report}.", messages.SUCCESS)
        context = {**self.admin_site.each_context(request), "opts": self.model._meta, "original": value_map,
                   "value_map": value_map, "form": form, "report": report, "used_by": mappings_using(value_map),
                   "title": f"Import CSV into {value_map}", "has_view_permission": True}
        return render(request, "admin/mappings/valuemap/import.html", context)
