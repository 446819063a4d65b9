import copy

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from connectors.models import Connection
from hub.models import Backfill, Flow
from mappings.models import Mapping, MappingRule
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord


class ConnectionSerializer(serializers.ModelSerializer):
    """Secrets are never part of an answer: only the names of those that are stored."""

    secrets_stored = serializers.SerializerMethodField()

    class Meta:
        model = Connection
        fields = ["id", "name", "slug", "kind", "base_url", "auth_kind", "settings", "enabled", "circuit",
                  "circuit_failures", "secrets_stored", "last_error", "last_error_at", "created_at", "updated_at"]
        read_only_fields = ["circuit", "circuit_failures", "last_error", "last_error_at", "created_at", "updated_at"]

    def get_secrets_stored(self, obj) -> list[str]:
        return obj.secret_names()


class BackfillSerializer(serializers.ModelSerializer):
    class Meta:
        model = Backfill
        fields = ["id", "status", "pages", "records", "events", "error", "started_by", "started_at", "updated_at",
                  "finished_at"]
        read_only_fields = fields


class FlowSerializer(serializers.ModelSerializer):
    backfill = serializers.SerializerMethodField(help_text="The latest backfill's progress (null when none)")

    class Meta:
        model = Flow
        fields = ["id", "name", "source", "source_entity", "source_event", "mapping", "target", "target_action",
                  "enabled", "only_when", "max_attempts", "retry_backoff", "poll_interval", "poll_cron", "poll_overlap",
                  "poll_cursor", "last_polled_at", "last_poll_error", "conflict_policy", "description", "backfill"]
        read_only_fields = ["poll_cursor", "last_polled_at", "last_poll_error"]

    def get_backfill(self, obj) -> dict | None:
        latest = obj.backfills.first()
        return BackfillSerializer(latest).data if latest else None

    def validate(self, attrs):
        """The model's own checks (cron expression, interval or cron, conflict policy), as the admin runs them."""
        flow = copy.copy(self.instance) if self.instance else Flow()
        for name, value in attrs.items():
            setattr(flow, name, value)
        try:
            flow.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return attrs


class MappingRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = MappingRule
        fields = ["id", "position", "target", "source", "constant", "default", "required", "transforms", "condition",
                  "expression", "child"]


class MappingSerializer(serializers.ModelSerializer):
    rules = MappingRuleSerializer(many=True, read_only=True)

    class Meta:
        model = Mapping
        fields = ["id", "name", "description", "source_schema", "target_schema", "version", "updated_at", "rules"]


class InboundEventSerializer(serializers.ModelSerializer):
    connection = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = InboundEvent
        fields = ["id", "connection", "origin", "topic", "source_id", "status", "error", "received_at", "processed_at"]


class SyncAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = SyncAttempt
        fields = ["number", "outcome", "error", "note", "mapping_version", "started_at", "duration_ms", "exchanges"]


class SyncRecordSerializer(serializers.ModelSerializer):
    flow = serializers.SlugRelatedField(slug_field="name", read_only=True)
    attempts = SyncAttemptSerializer(many=True, read_only=True)
    replay_mapping_version = serializers.SerializerMethodField(
        help_text="The mapping version chosen when it was last replayed (null: the published one)")

    class Meta:
        model = SyncRecord
        fields = ["id", "flow", "event", "source_id", "target_id", "status", "error", "attempt_count",
                  "mapping_version", "replay_mapping_version", "next_attempt_at", "created_at", "updated_at", "synced_at", "attempts"]


    def get_replay_mapping_version(self, obj) -> int | None:
        chosen = getattr(obj, "replay_version", None)  # select_related: no query per record
        return chosen.number if chosen else None


class ReplaySerializer(serializers.Serializer):
    mapping_version = serializers.IntegerField(required=False, allow_null=True, min_value=1,
                                               help_text="Map with this version of the flow's mapping instead of "
                                                         "the published one (kept for the record's retries)")


class ReplayFilterSerializer(ReplaySerializer):
    flow = serializers.IntegerField(required=False)
    status = serializers.ChoiceField(choices=["failed", "retrying", "ignored", "stale"], required=False,
                                     default="failed")
    error_group = serializers.CharField(required=False, help_text="An error group, exactly as the error groups list it")
    error_contains = serializers.CharField(required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
