"""Mappings: rules an integrator edits (the draft) and the versions that flows run (published).

The rule rows of a mapping are its draft. Publishing copies them, with the value maps they use, into
an immutable ``MappingVersion`` snapshot; flows always run the published snapshot, so editing a rule
or a value map never changes what production sends until someone publishes. Rollback publishes an
earlier snapshot again.

A snapshot is plain JSON::

    {"rules": [{"position": 10, "target": "order.CUOR", "source": "orderNumber", "constant": "",
                "default": "", "required": true, "transforms": "trim | text:20", "condition": "",
                "expression": "", "child": null | <snapshot of the child mapping>}, ...],
     "value_maps": {"carriers": {"Courier": "EXP"}, ...},
     "source_schema": "xcart.order", "target_schema": "infor_m3.sales_order"}
"""

import re

from django.db import models, transaction
from django.db.models import Max
from simple_history.models import HistoricalRecords

from hub.configcache import ConfigQuerySet


class ValueMap(models.Model):
    """A lookup table, e.g. X-Cart shipping method -> M3 delivery method (MODL)."""

    name = models.SlugField(unique=True, help_text="Used in transforms: lookup:<name>")
    description = models.TextField(blank=True)
    history = HistoricalRecords()

    def __str__(self):
        return self.name

    def as_dict(self) -> dict[str, str]:
        return {e.source_value: e.target_value for e in self.entries.all()}


class ValueMapEntry(models.Model):
    value_map = models.ForeignKey(ValueMap, on_delete=models.CASCADE, related_name="entries")
    source_value = models.CharField(max_length=200)
    target_value = models.CharField(max_length=200)
    history = HistoricalRecords()

    class Meta:
        verbose_name_plural = "value map entries"
        constraints = [models.UniqueConstraint(fields=["value_map", "source_value"], name="one_target_per_source_value")]

    def __str__(self):
        return f"{self.source_value} -> {self.target_value}"


class Mapping(models.Model):
    """Turns one source record into one target record, rule by rule."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    source_schema = models.CharField(max_length=100, blank=True, help_text="Entity schema of the input, e.g. xcart.order")
    target_schema = models.CharField(max_length=100, blank=True,
                                     help_text="Entity schema the output must meet, e.g. infor_m3.sales_order: "
                                               "required fields, types and lengths are checked before anything is sent")
    published = models.ForeignKey("MappingVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
                                  editable=False, help_text="The version flows run")
    updated_at = models.DateTimeField(auto_now=True)
    objects = ConfigQuerySet.as_manager()  # update() and delete() tell the workers (hub.configcache)
    history = HistoricalRecords(excluded_fields=["updated_at"])

    def __str__(self):
        return self.name

    @property
    def version(self) -> int | None:
        """Number of the published version (what a sync record stores), None before the first publish."""
        return self.published.number if self.published_id else None

    def draft_snapshot(self) -> dict:
        """The rules as they are now (with the child mappings' rules and the value maps used), as JSON."""
        snapshot = _rules_snapshot(self, seen=set())
        text = " ".join(rule_text for rule_text in _transform_texts(snapshot))
        snapshot["value_maps"] = {vm.name: vm.as_dict() for vm in ValueMap.objects.prefetch_related("entries")
                                  if re.search(rf"(?<![\w-]){re.escape(vm.name)}(?![\w-])", text)}
        return snapshot

    @transaction.atomic
    def publish(self, *, snapshot: dict | None = None, by: str = "", note: str = "") -> "MappingVersion":
        """Snapshot the draft (or the given snapshot: a rollback) as the next version and make it the
        published one. The snapshot is compiled first: a mapping that cannot compile is not published."""
        from mappings.engine import compile_snapshot

        snapshot = snapshot if snapshot is not None else self.draft_snapshot()
        compile_snapshot(snapshot)  # raises MappingError naming the rule
        locked = Mapping.objects.select_for_update().get(pk=self.pk)
        number = (locked.versions.aggregate(n=Max("number"))["n"] or 0) + 1
        version = MappingVersion.objects.create(mapping=self, number=number, snapshot=snapshot, created_by=by, note=note)
        Mapping.objects.filter(pk=self.pk).update(published=version)
        self.published = version
        return version


def _rules_snapshot(mapping: Mapping, seen: set) -> dict:
    if mapping.pk in seen:
        from mappings.engine import MappingError

        raise MappingError(f"mapping '{mapping}' uses itself as a child mapping")
    seen = seen | {mapping.pk}
    rules = []
    for rule in mapping.rules.select_related("child"):
        rules.append({
            "position": rule.position, "target": rule.target, "source": rule.source, "constant": rule.constant,
            "default": rule.default, "required": rule.required, "transforms": rule.transforms,
            "condition": rule.condition, "expression": rule.expression,
            "child": _rules_snapshot(rule.child, seen) if rule.child_id else None,
        })
    return {"rules": rules, "source_schema": mapping.source_schema, "target_schema": mapping.target_schema}


def _transform_texts(snapshot: dict):
    for rule in snapshot["rules"]:
        yield rule["transforms"]
        yield rule["expression"]
        if rule["child"]:
            yield from _transform_texts(rule["child"])


class MappingVersion(models.Model):
    """An immutable snapshot of a mapping's rules and value maps; one of them is published."""

    mapping = models.ForeignKey(Mapping, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    snapshot = models.JSONField()
    note = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConfigQuerySet.as_manager()  # update() and delete() tell the workers (hub.configcache)

    class Meta:
        ordering = ["mapping", "-number"]
        constraints = [models.UniqueConstraint(fields=["mapping", "number"], name="one_version_number_per_mapping")]
        permissions = [("publish_mapping", "Can publish and roll back mappings")]

    def __str__(self):
        return f"{self.mapping} v{self.number}"


class MappingRule(models.Model):
    """One target field of a draft: where its value comes from and how it is transformed."""

    mapping = models.ForeignKey(Mapping, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveIntegerField(default=0)
    target = models.CharField(max_length=200, help_text="Dotted path in the output; lines[].ITNO for one entry per source item")
    source = models.CharField(max_length=300, blank=True,
                              help_text="Dotted path in the source record (items[].sku); several comma-separated to join")
    constant = models.CharField(max_length=200, blank=True, help_text="Used instead of a source")
    default = models.CharField(max_length=200, blank=True, help_text="Used when the source is empty")
    required = models.BooleanField(default=False)
    transforms = models.CharField(max_length=500, blank=True,
                                  help_text="Chain applied in order, e.g. trim | upper | text:36 or lookup:carriers")
    condition = models.CharField(max_length=300, blank=True,
                                 help_text='Expression; the rule applies only when it is true, e.g. paymentStatus.code == "P"')
    expression = models.CharField(max_length=500, blank=True,
                                  help_text="Expression computing the value instead of a source, e.g. total - shipping")
    child = models.ForeignKey(Mapping, null=True, blank=True, on_delete=models.PROTECT, related_name="parent_rules",
                              help_text="Child mapping applied to each element of the source list (target lines[])")
    history = HistoricalRecords()

    class Meta:
        ordering = ["mapping", "position", "id"]

    def __str__(self):
        return f"{self.target} <- {self.source or self.expression or repr(self.constant)}"


class MappingSuggestion(models.Model):
    """A rule proposed by the suggester; the integrator accepts (it becomes a draft rule) or rejects it.

    Decisions are kept: what was accepted before in this installation weighs in future suggestions."""

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        ACCEPTED = "accepted", "accepted"
        REJECTED = "rejected", "rejected"

    mapping = models.ForeignKey(Mapping, on_delete=models.CASCADE, related_name="suggestions")
    target = models.CharField(max_length=200)
    source = models.CharField(max_length=300)
    transforms = models.CharField(max_length=500, blank=True)
    confidence = models.FloatField()
    reason = models.CharField(max_length=300)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    rule = models.ForeignKey(MappingRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                             help_text="The draft rule made when the suggestion was accepted")
    decided_by = models.CharField(max_length=150, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["mapping", "-confidence"]
        constraints = [models.UniqueConstraint(fields=["mapping", "target", "source"], name="one_suggestion_per_pair")]

    def __str__(self):
        return f"{self.target} <- {self.source} ({self.confidence:.0%})"
