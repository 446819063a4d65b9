"""The circuit breaker of a connection: repeated transient failures open it; while open, deliveries
wait (they are not attempted, and not failed); after the cool-down one delivery probes (half-open);
its success closes the circuit, its failure opens it again.

State lives on the Connection row and changes with single UPDATEs, so every worker shares it.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from connectors.models import Connection

C = Connection.Circuit


def wait_seconds(connection_id: int) -> float:
    """0 when a delivery may go ahead now (closed, or this caller is the half-open probe), else how
    long deliveries to this connection must wait."""
    row = Connection.objects.filter(pk=connection_id).values("circuit", "circuit_opened_at", "enabled").first()
    if row is None:
        return 0.0
    if not row["enabled"]:
        return float(settings.HUB_CIRCUIT_COOLDOWN)  # paused by an operator: wait, do not fail
    if row["circuit"] == C.CLOSED:
        return 0.0
    reopen_at = row["circuit_opened_at"] + timedelta(seconds=settings.HUB_CIRCUIT_COOLDOWN)
    now = timezone.now()
    if row["circuit"] == C.OPEN and now >= reopen_at:
        # One caller wins the probe: the update only matches while the circuit is still open.
        if Connection.objects.filter(pk=connection_id, circuit=C.OPEN).update(circuit=C.HALF_OPEN, circuit_opened_at=now):
            return 0.0
    return max(1.0, (reopen_at - now).total_seconds()) if row["circuit"] == C.OPEN else float(settings.HUB_CIRCUIT_COOLDOWN)


def succeeded(connection_id: int) -> None:
    Connection.objects.filter(pk=connection_id).exclude(circuit=C.CLOSED, circuit_failures=0).update(
        circuit=C.CLOSED, circuit_failures=0, circuit_opened_at=None)


def failed(connection_id: int) -> None:
    """A transient failure: count it; open at the threshold; a failed probe opens again."""
    now = timezone.now()
    Connection.objects.filter(pk=connection_id, circuit=C.HALF_OPEN).update(circuit=C.OPEN, circuit_opened_at=now)
    Connection.objects.filter(pk=connection_id, circuit=C.CLOSED).update(circuit_failures=F("circuit_failures") + 1)
    Connection.objects.filter(pk=connection_id, circuit=C.CLOSED,
                              circuit_failures__gte=settings.HUB_CIRCUIT_THRESHOLD).update(circuit=C.OPEN,
                                                                                           circuit_opened_at=now)


def close(connection_id: int) -> None:
    """An operator closes it by hand (the system is known to be back)."""
    succeeded(connection_id)
