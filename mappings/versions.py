"""What an integrator looks at before and after publishing a mapping: diffs, rollback, preview, regression.

Everything here works on snapshots (the JSON a ``MappingVersion`` stores, or ``Mapping.draft_snapshot()``),
so the draft and any two versions compare the same way, and nothing here writes except ``rollback``.

- ``diff(old, new)``: rule by rule (matched by target path), value map entry by entry.
- ``rollback(mapping, number, by)``: publishes an earlier snapshot again as a new version, so history
  stays linear ("v5 = rollback to v3").
- ``preview`` / ``regression``: run the draft and the published version on sample records (pasted, or
  the recorded events of the mapping's flows) and say, field by field, what would change.
"""

from dataclasses import dataclass, field

from mappings.engine import MappingError, compile_snapshot
from mappings.models import Mapping, MappingVersion

RULE_FIELDS = ("source", "constant", "default", "required", "transforms", "condition", "expression", "position")

# --- diff ---------------------------------------------------------------------------------------


@dataclass
class RuleChange:
    kind: str  # "added", "removed", "changed"
    target: str  # the rule's target path; a child mapping's rules are shown as "lines[] / ITNO"
    fields: list[tuple[str, object, object]] = field(default_factory=list)  # (name, old, new)

    def __str__(self):
        if self.kind != "changed":
            return f"{self.kind} {self.target}: " + ", ".join(f"{name}={new if self.kind == 'added' else old!r}"
                                                              for name, old, new in self.fields)
        return f"changed {self.target}: " + ", ".join(f"{name} {old!r} -> {new!r}" for name, old, new in self.fields)


@dataclass
class ValueMapChange:
    name: str
    kind: str  # "added" (the snapshot starts using it), "removed", "changed"
    entries: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # (source, old, new); None: absent

    def __str__(self):
        parts = [f"{source!r}: {old!r} -> {new!r}" for source, old, new in self.entries]
        return f"value map {self.name} {self.kind}" + (": " + ", ".join(parts) if parts else "")


@dataclass
class Diff:
    rules: list[RuleChange]
    value_maps: list[ValueMapChange]
    schemas: list[tuple[str, str, str]]  # (which, old, new)

    def __bool__(self):
        return bool(self.rules or self.value_maps or self.schemas)

    def lines(self) -> list[str]:
        return ([f"{which} {old!r} -> {new!r}" for which, old, new in self.schemas]
                + [str(change) for change in self.rules] + [str(change) for change in self.value_maps])


def _shown(rule: dict) -> list[tuple[str, object]]:
    """The fields of a rule worth showing: those that are set (a child is shown by its own rules)."""
    return [(name, rule.get(name)) for name in RULE_FIELDS if name != "position" and rule.get(name) not in ("", None, False)]


def _keyed(rules: list[dict]) -> dict[tuple[str, int], dict]:
    """Rules by (target, n): the n-th rule writing that target (conditional rules may share one)."""
    keyed, seen = {}, {}
    for rule in sorted(rules, key=lambda r: (r.get("position", 0))):
        target = rule["target"].strip()
        n = seen[target] = seen.get(target, -1) + 1
        keyed[(target, n)] = rule
    return keyed


def _rule_changes(old_rules: list[dict], new_rules: list[dict], prefix: str = "") -> list[RuleChange]:
    old, new = _keyed(old_rules), _keyed(new_rules)
    changes = []
    for key in list(old) + [k for k in new if k not in old]:
        target = prefix + key[0] + (f" (#{key[1] + 1})" if key[1] else "")
        before, after = old.get(key), new.get(key)
        if after is None:
            changes.append(RuleChange("removed", target, [(n, v, None) for n, v in _shown(before)]))
        elif before is None:
            changes.append(RuleChange("added", target, [(n, None, v) for n, v in _shown(after)]))
        else:
            fields = [(n, before.get(n), after.get(n)) for n in RULE_FIELDS if before.get(n) != after.get(n)]
            if fields:
                changes.append(RuleChange("changed", target, fields))
        old_child, new_child = (before or {}).get("child"), (after or {}).get("child")
        if old_child or new_child:
            changes.extend(_rule_changes((old_child or {}).get("rules", []), (new_child or {}).get("rules", []),
                                         prefix=f"{target} / "))
    return changes


def _value_map_changes(old: dict, new: dict) -> list[ValueMapChange]:
    changes = []
    for name in sorted(set(old) | set(new)):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        kind = "added" if before is None else "removed" if after is None else "changed"
        before, after = before or {}, after or {}
        entries = [(source, before.get(source), after.get(source)) for source in sorted(set(before) | set(after))
                   if before.get(source) != after.get(source)]
        changes.append(ValueMapChange(name, kind, entries if kind == "changed" else []))
    return changes


def diff(old_snapshot: dict | None, new_snapshot: dict) -> Diff:
    """What changes from ``old_snapshot`` (None: nothing published yet) to ``new_snapshot``."""
    old_snapshot = old_snapshot or {"rules": [], "value_maps": {}}
    schemas = [(which, old_snapshot.get(which, ""), new_snapshot.get(which, ""))
               for which in ("source_schema", "target_schema")
               if (old_snapshot.get(which) or "") != (new_snapshot.get(which) or "")]
    return Diff(_rule_changes(old_snapshot.get("rules", []), new_snapshot.get("rules", [])),
                _value_map_changes(old_snapshot.get("value_maps") or {}, new_snapshot.get("value_maps") or {}), schemas)


def draft_differs(mapping: Mapping) -> bool:
    """True when publishing now would change what flows run (rules, schemas or value map entries)."""
    if not mapping.published_id:
        return True
    try:
        return bool(diff(mapping.published.snapshot, mapping.draft_snapshot()))
    except MappingError:  # e.g. a child mapping that uses itself: certainly not what is published
        return True


# --- rollback -----------------------------------------------------------------------------------


def rollback(mapping: Mapping, number: int, by: str = "") -> MappingVersion:
    """Publish version ``number``'s snapshot again as the next version. The draft rules are left as
    they are (an integrator's unfinished work is not thrown away); the admin then shows that the
    draft differs from what is published."""
    earlier = MappingVersion.objects.get(mapping=mapping, number=number)
    return mapping.publish(snapshot=earlier.snapshot, by=by, note=f"rollback to v{number}")


# --- running snapshots on sample records --------------------------------------------------------


@dataclass
class Outcome:
    """One snapshot applied to one record: the output, or the error (which names the rule)."""

    output: dict | None = None
    error: str = ""

    @property
    def ok(self):
        return not self.error


def compile_draft(mapping: Mapping):
    """(function of the draft, "") or (None, why it does not compile, naming the rule)."""
    try:
        return compile_snapshot(mapping.draft_snapshot()), ""
    except MappingError as exc:
        return None, str(exc)


def published_fn(mapping: Mapping):
    """(function of the published version, "") or (None, why): nothing published, or it no longer compiles."""
    from mappings.engine import compiled

    if not mapping.published_id:
        return None, "nothing published yet"
    try:
        return compiled(mapping), ""
    except MappingError as exc:
        return None, f"the published version does not compile: {exc}"


def apply(fn, record) -> Outcome:
    if not isinstance(record, dict):
        return Outcome(error=f"the source record must be a JSON object, not {type(record).__name__}")
    try:
        return Outcome(output=fn(record))
    except MappingError as exc:
        return Outcome(error=str(exc))
    except Exception as exc:  # noqa: BLE001 - a preview shows whatever would fail the flow, bugs included
        return Outcome(error=f"unexpected {type(exc).__name__}: {exc}")


def flatten(value, prefix: str = "") -> dict[str, object]:
    """{"lines": [{"ITNO": "A"}]} -> {"lines[0].ITNO": "A"}: the places a field-level diff compares."""
    if isinstance(value, dict) and value:
        flat = {}
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and value:
        flat = {}
        for i, item in enumerate(value):
            flat.update(flatten(item, f"{prefix}[{i}]"))
        return flat
    return {prefix: value}


def field_changes(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """(path, old, new) for every leaf that differs; a missing side is ``MISSING``."""
    before, after = flatten(old), flatten(new)
    return [(path, before.get(path, MISSING), after.get(path, MISSING))
            for path in list(before) + [p for p in after if p not in before]
            if before.get(path, MISSING) != after.get(path, MISSING)]


class _Missing:
    def __repr__(self):
        return "(absent)"

    __str__ = __repr__


MISSING = _Missing()


# --- recorded samples ---------------------------------------------------------------------------


@dataclass
class Sample:
    """A source record the mapping's flows met: from a recorded event (or its operator's correction)."""

    event_id: int
    label: str
    record: dict | None = None
    error: str = ""  # the record could not be read (payload purged, thin payload not fetchable)


def recorded_events(mapping: Mapping, limit: int):
    """The latest events the mapping's flows made sync records for, newest first, with their record
    (one per event: several flows of one mapping on the same event map the same record)."""
    from monitoring.models import SyncRecord

    records = (SyncRecord.objects.filter(flow__mapping=mapping).select_related("event__connection")
               .order_by("-event_id", "-id"))
    seen, found = set(), []
    for record in records.iterator(chunk_size=200):
        if record.event_id in seen:
            continue
        seen.add(record.event_id)
        found.append(record)
        if len(found) >= limit:
            break
    return found


def event_choices(mapping: Mapping, limit: int = 50) -> list[tuple[int, str]]:
    """(event id, label) of the latest events of the mapping's flows, for the preview's chooser."""
    from monitoring.models import InboundEvent

    events = (InboundEvent.objects.filter(records__flow__mapping=mapping).select_related("connection")
              .only("id", "topic", "source_id", "received_at", "connection__slug").distinct().order_by("-id")[:limit])
    return [(event.pk, _label(event)) for event in events]


def _label(event) -> str:
    return f"event {event.pk}: {event.connection.slug} {event.topic} #{event.source_id} ({event.received_at:%Y-%m-%d %H:%M})"


def sample_of(sync_record) -> Sample:
    """The record a flow maps for this sync record: the operator's correction, else the event's."""
    from hub.pipeline import source_record

    event = sync_record.event
    sample = Sample(event.pk, _label(event))
    if sync_record.source_override is not None:
        sample.record, sample.label = sync_record.source_override, sample.label + ", corrected by an operator"
        return sample
    try:
        sample.record = source_record(event)
    except Exception as exc:  # noqa: BLE001 - purged payload, a source that does not answer...: shown per record
        sample.error = f"source record unreadable: {getattr(exc, 'message', None) or exc}"
    return sample


def sample_of_event(mapping: Mapping, event_id: int) -> Sample | None:
    """The sample of one chosen event, if the mapping's flows recorded it."""
    from monitoring.models import SyncRecord

    record = (SyncRecord.objects.filter(flow__mapping=mapping, event_id=event_id).select_related("event__connection")
              .order_by("-id").first())
    return sample_of(record) if record else None


def samples(mapping: Mapping, limit: int) -> list[Sample]:
    return [sample_of(record) for record in recorded_events(mapping, limit)]


# --- preview and regression ---------------------------------------------------------------------


@dataclass
class Preview:
    draft: Outcome
    published: Outcome | None  # None: nothing published yet
    changes: list[tuple[str, object, object]]  # field-level, published -> draft (both succeeded)


def preview(mapping: Mapping, record: dict, draft_fn=None) -> Preview:
    """The draft's output for one record, beside the published version's.

    The draft must compile (the caller shows the compile error otherwise)."""
    draft_fn = draft_fn or compile_snapshot(mapping.draft_snapshot())
    live, why = published_fn(mapping)
    draft = apply(draft_fn, record)
    published = apply(live, record) if live else (Outcome(error=why) if mapping.published_id else None)
    changes = field_changes(published.output, draft.output) if published and published.ok and draft.ok else []
    return Preview(draft, published, changes)


@dataclass
class RegressionRow:
    sample: Sample
    kind: str  # "same", "changed", "now fails", "now succeeds", "still fails", "unreadable"
    published: Outcome | None = None
    draft: Outcome | None = None
    changes: list = field(default_factory=list)


@dataclass
class Regression:
    compile_error: str = ""  # the draft does not compile: nothing ran
    rows: list[RegressionRow] = field(default_factory=list)

    KINDS = ("changed", "now fails", "now succeeds", "still fails", "unreadable", "same")

    @property
    def summary(self) -> list[tuple[str, int]]:
        counts = {kind: 0 for kind in self.KINDS}
        for row in self.rows:
            counts[row.kind] += 1
        return [(kind, counts[kind]) for kind in self.KINDS]


def regression(mapping: Mapping, limit: int = 50) -> Regression:
    """Run the draft and the published version (each compiled once) on the last ``limit`` recorded
    events of the mapping's flows and classify every record by how the draft's result differs."""
    draft_fn, error = compile_draft(mapping)
    if error:
        return Regression(compile_error=error)
    live, why = published_fn(mapping)
    report = Regression()
    for sample in samples(mapping, limit):
        if sample.error:
            report.rows.append(RegressionRow(sample, "unreadable"))
            continue
        draft = apply(draft_fn, sample.record)
        published = apply(live, sample.record) if live else Outcome(error=why)
        if published.ok and draft.ok:
            changes = field_changes(published.output, draft.output)
            kind = "changed" if changes else "same"
        else:
            changes = []
            kind = "now fails" if published.ok else "now succeeds" if draft.ok else "still fails"
        report.rows.append(RegressionRow(sample, kind, published, draft, changes))
    return report
