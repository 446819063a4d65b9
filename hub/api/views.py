"""The REST API under /api/: what the admin shows and does, for scripts and other systems.

Token (DRF authtoken) or session authentication. Reading needs the model's view permission,
changes its add/change/delete permission; replaying and pausing have permissions of their own
(replay_syncrecord, pause_flow, pause_connection). The roles (Django groups made by a migration:
Admin, Integrator, Operator, Viewer) bundle those permissions.
"""

from django.db.models import Q
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from connectors.models import Connection
from hub import backfill as backfills
from hub import replay as replays
from hub.api import serializers as s
from hub.models import Flow
from mappings.models import Mapping
from monitoring import search
from monitoring.models import InboundEvent, SyncRecord


class ModelPermissions(permissions.DjangoModelPermissions):
    """DRF's model permissions, with reading guarded by the view permission too."""

    perms_map = {**permissions.DjangoModelPermissions.perms_map,
                 "GET": ["%(app_label)s.view_%(model_name)s"], "HEAD": ["%(app_label)s.view_%(model_name)s"]}


def _filtered(queryset, given, lookups: dict):
    """Apply ``lookups`` (parameter -> field lookup, or a function of the value giving a Q) for every
    parameter that has a value in ``given`` (query parameters or validated data)."""
    for name, lookup in lookups.items():
        value = given.get(name)
        if value not in (None, ""):
            queryset = queryset.filter(lookup(value) if callable(lookup) else Q(**{lookup: value}))
    return queryset


def _set_enabled(viewset, request, enabled: bool):
    obj = viewset.get_object()
    type(obj).objects.filter(pk=obj.pk).update(enabled=enabled)
    obj.refresh_from_db()
    return Response(viewset.get_serializer(obj).data)


class PausePermission(permissions.BasePermission):
    def has_permission(self, request, view):
        model = view.queryset.model._meta
        return request.user.has_perm(f"{model.app_label}.pause_{model.model_name}")


class PausableMixin:
    def get_permissions(self):
        if self.action in ("pause", "resume"):  # operators may pause what they may not edit
            return [permissions.IsAuthenticated(), PausePermission()]
        return super().get_permissions()

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def pause(self, request, pk=None):
        return _set_enabled(self, request, False)

    @extend_schema(request=None)
    @action(detail=True, methods=["post"])
    def resume(self, request, pk=None):
        return _set_enabled(self, request, True)


class ConnectionViewSet(PausableMixin, viewsets.ModelViewSet):
    queryset = Connection.objects.all()
    serializer_class = s.ConnectionSerializer
    permission_classes = [ModelPermissions]


class FlowViewSet(PausableMixin, viewsets.ModelViewSet):
    queryset = Flow.objects.all()
    serializer_class = s.FlowSerializer
    permission_classes = [ModelPermissions]

    @extend_schema(request=None, responses=s.BackfillSerializer)
    @action(detail=True, methods=["get", "post"])
    def backfill(self, request, pk=None):
        """GET: the latest backfill's progress. POST: start a backfill (every record of the source from the
        beginning, page by page, beside the normal poll), or resume a paused or failed one."""
        flow = self.get_object()
        if request.method == "GET":
            latest = backfills.latest(flow)
            return Response(s.BackfillSerializer(latest).data if latest else None)
        try:
            started = backfills.start(flow, by=request.user.get_username())
        except backfills.BackfillError as exc:
            return Response({"detail": str(exc)}, status=400)
        return Response(s.BackfillSerializer(started).data, status=202)

    @extend_schema(request=None, responses=s.BackfillSerializer)
    @action(detail=True, methods=["post"], url_path="backfill/pause")
    def pause_backfill(self, request, pk=None):
        """Pause the running backfill after its current page; POST .../backfill/ resumes it."""
        paused = backfills.pause(self.get_object())
        if paused is None:
            return Response({"detail": "no backfill is running"}, status=409)
        return Response(s.BackfillSerializer(paused).data)

    def get_permissions(self):
        if self.action in ("backfill", "pause_backfill") and self.request.method == "POST":
            return [permissions.IsAuthenticated(), BackfillPermission()]
        return super().get_permissions()


class MappingViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = Mapping.objects.order_by("name").prefetch_related("rules")
    serializer_class = s.MappingSerializer
    permission_classes = [ModelPermissions]


class InboundEventViewSet(viewsets.ReadOnlyModelViewSet):
    queryset = InboundEvent.objects.select_related("connection")
    serializer_class = s.InboundEventSerializer
    permission_classes = [ModelPermissions]

    def get_queryset(self):
        return _filtered(super().get_queryset(), self.request.query_params,
                         {"connection": "connection__slug", "status": "status", "source_id": "source_id"})


class SyncRecordViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Sync records with the admin's filters: flow, connection, status, entity, date, and ``q``: any id
    a person has in hand (store order id, M3 order number, a reference or e-mail in the event), as
    the admin's search."""

    queryset = SyncRecord.objects.select_related("flow", "replay_version").prefetch_related("attempts")
    serializer_class = s.SyncRecordSerializer
    permission_classes = [ModelPermissions]

    LOOKUPS = {
        "flow": "flow_id",
        "connection": lambda slug: Q(flow__source__slug=slug) | Q(flow__target__slug=slug),
        "status": "status",
        "entity": "flow__source_entity",
        "since": "created_at__gte",
        "until": "created_at__lte",
        "q": lambda q: Q(pk__in=search.record_ids(q)),
    }

    def get_queryset(self):
        return _filtered(super().get_queryset(), self.request.query_params, self.LOOKUPS)

    def _replay(self, request, records, mapping_version) -> Response:
        try:
            replayed = replays.replay(records, mapping_version=mapping_version, by=request.user.get_username())
        except replays.ReplayError as exc:
            return Response({"mapping_version": [str(exc)]}, status=400)
        return Response({"replayed": replayed}, status=202)

    @extend_schema(request=s.ReplaySerializer)
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        """Replay the record (not when synced); ``mapping_version`` maps it with that version of the mapping."""
        given = s.ReplaySerializer(data=request.data)
        given.is_valid(raise_exception=True)
        record = self.get_object()
        return self._replay(request, SyncRecord.objects.filter(pk=record.pk), given.validated_data.get("mapping_version"))

    @extend_schema(request=s.ReplayFilterSerializer)
    @action(detail=False, methods=["post"], url_path="replay")
    def replay_filtered(self, request):
        """Replay every record that matches: status (failed unless given), flow, error group or error text,
        created between since and until; optionally against one mapping version."""
        given = s.ReplayFilterSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        records = replays.matching(flow=data.get("flow"), status=data["status"], error_group=data.get("error_group", ""),
                                   error_contains=data.get("error_contains", ""), since=data.get("since"),
                                   until=data.get("until"))
        return self._replay(request, records, data.get("mapping_version"))

    def get_permissions(self):
        if self.action in ("replay", "replay_filtered"):
            return [permissions.IsAuthenticated(), ReplayPermission()]
        return super().get_permissions()


class BackfillPermission(permissions.BasePermission):
    """A backfill makes as many events as the source has records: who may change the flow may start it."""

    def has_permission(self, request, view):
        return request.user.has_perm("hub.change_flow")


class ReplayPermission(permissions.BasePermission):
    def has_permission(self, request, view):
        return request.user.has_perm("monitoring.replay_syncrecord")
