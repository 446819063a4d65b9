"""An ION Messaging Service (IMS) compatible inbound endpoint: M3 sends BODs through ION to the hub.

ION calls ``GET .../service/ping`` to check the endpoint and ``POST .../v3/multipartMessage`` with two
parts: ``ParameterRequest`` (JSON: documentName, messageId, encoding NONE|DEFLATE, ...) and
``MessagePayload`` (the BOD). The connection's ``ion_inbound_token`` secret is the bearer token ION
is configured to send. Like webhooks: verify, store, answer, then queue.
"""

import hmac
import json
import zlib

from django.db import IntegrityError, transaction
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from connectors.models import Connection
from hub import jobs
from monitoring.models import InboundEvent


def _problem(status, detail):
    return Response({"detail": detail}, status=status)


def _part(request, name) -> bytes | None:
    if name in request.FILES:
        return request.FILES[name].read()
    if name in request.POST:
        return request.POST[name].encode()
    return None


class IMSView(APIView):
    authentication_classes = []
    permission_classes = []
    parser_classes = [MultiPartParser]

    def _connection(self, slug):
        return Connection.objects.filter(slug=slug, kind="infor_m3", enabled=True).first()

    def _authorized(self, request, connection) -> bool:
        expected = connection.secret("ion_inbound_token")
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())

    def get(self, request, slug):  # service/ping
        connection = self._connection(slug)
        if connection is None:
            return _problem(404, f"no enabled M3 connection named '{slug}'")
        if not self._authorized(request, connection):
            return _problem(401, "missing or wrong bearer token (the connection's ION inbound token)")
        return Response({"status": "OK"})

    def post(self, request, slug):
        connection = self._connection(slug)
        if connection is None:
            return _problem(404, f"no enabled M3 connection named '{slug}'")
        if not self._authorized(request, connection):
            return _problem(401, "missing or wrong bearer token (the connection's ION inbound token)")
        raw_parameters, payload = _part(request, "ParameterRequest"), _part(request, "MessagePayload")
        if raw_parameters is None or payload is None:
            return _problem(400, "a multipart message needs the parts ParameterRequest and MessagePayload")
        try:
            parameters = json.loads(raw_parameters)
            if parameters.get("encoding", "NONE") == "DEFLATE":
                payload = zlib.decompress(payload)
            parsed = connection.connector().parse_message(payload)
        except (ValueError, zlib.error) as exc:  # BODError is a ValueError
            return _problem(400, f"message refused: {exc}")
        message_id = str(parameters.get("messageId") or parsed.record.get("bod_id") or "")
        if not message_id:
            return _problem(400, "ParameterRequest has no messageId and the BOD no BODID")
        try:
            with transaction.atomic():
                event = InboundEvent.objects.create(
                    connection=connection, origin=InboundEvent.Origin.MESSAGE, idempotency_key=message_id,
                    topic=parsed.topic, source_id=parsed.source_id, body=payload.decode("utf-8"),
                    headers={"documentName": parameters.get("documentName", ""),
                             "fromLogicalId": parameters.get("fromLogicalId", "")},
                )
        except IntegrityError:
            existing = InboundEvent.objects.only("id").get(connection=connection, idempotency_key=message_id)
            return Response({"id": existing.id, "duplicate": True}, status=200)
        transaction.on_commit(lambda: jobs.enqueue_event(event.id))
        return Response({"id": event.id}, status=202)
