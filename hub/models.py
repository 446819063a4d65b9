from django.db import models


class Flow(models.Model):
    """Source connection + entity/event -> mapping -> target connection + action."""

    name = models.CharField(max_length=100, unique=True)
    source = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="outgoing_flows")
    source_entity = models.CharField(max_length=50, help_text="e.g. order")
    source_event = models.CharField(max_length=50, default="*", help_text="e.g. created; * for every event")
    mapping = models.ForeignKey("mappings.Mapping", on_delete=models.PROTECT, related_name="flows")
    target = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="incoming_flows")
    target_action = models.CharField(max_length=50, help_text="e.g. sales_order.create")
    enabled = models.BooleanField(default=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Link(models.Model):
    """The ID cross-reference: this record in the source is that record in the target."""

    entity = models.CharField(max_length=50)
    source_connection = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="+")
    source_id = models.CharField(max_length=100)
    target_connection = models.ForeignKey("connectors.Connection", on_delete=models.PROTECT, related_name="+")
    target_id = models.CharField(max_length=100, db_index=True)
    flow = models.ForeignKey(Flow, null=True, blank=True, on_delete=models.SET_NULL, related_name="links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source_connection", "entity", "source_id", "target_connection"], name="one_link_per_record_and_target"),
        ]

    def __str__(self):
        return f"{self.entity} {self.source_id} -> {self.target_id}"
