from rest_framework import serializers

from connectors.models import Connection
from hub.models import Flow
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


class FlowSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flow
        fields = ["id", "name", "source", "source_entity", "source_event", "mapping", "target", "target_action",
                  "enabled", "only_when", "max_attempts", "retry_backoff", "poll_interval", "poll_cursor",
                  "last_polled_at", "last_poll_error", "description"]
        read_only_fields = ["poll_cursor", "last_polled_at", "last_poll_error"]


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

    class Meta:
        model = SyncRecord
        fields = ["id", "flow", "event", "source_id", "target_id", "status", "error", "attempt_count",
                  "mapping_version", "next_attempt_at", "created_at", "updated_at", "synced_at", "attempts"]


class ReplayFilterSerializer(serializers.Serializer):
    flow = serializers.IntegerField(required=False)
    error_contains = serializers.CharField(required=False)
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)
