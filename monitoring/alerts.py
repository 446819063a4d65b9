"""Alert rules: checked every minute, one message when a problem starts, one when it is over.

A rule watches a flow or a connection for one condition; while it holds the rule is "firing" and
nothing more is sent (one outage, one alert). Messages go by e-mail (Django's mail settings) and
to a webhook in Slack's format (``{"text": ...}``). A daily digest summarises the day.
"""

import logging
from datetime import timedelta

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.utils import timezone

from monitoring.models import AlertRule, InboundEvent, SyncRecord

log = logging.getLogger(__name__)


def measure(rule: AlertRule) -> tuple[float, str]:
    """(value, description) of the rule's condition now."""
    since = timezone.now() - timedelta(minutes=rule.window_minutes)
    records = SyncRecord.objects.all()
    if rule.flow_id:
        records = records.filter(flow_id=rule.flow_id)
    if rule.connection_id:
        records = records.filter(Q(flow__source_id=rule.connection_id) | Q(flow__target_id=rule.connection_id))
    if rule.kind == AlertRule.Kind.ERROR_RATE:
        recent = records.filter(updated_at__gte=since)
        total = recent.count()
        failed = recent.filter(status__in=[SyncRecord.Status.FAILED, SyncRecord.Status.RETRYING]).count()
        rate = failed / total if total else 0.0
        return rate, f"{failed} of {total} records failing in the last {rule.window_minutes} min ({rate:.0%})"
    if rule.kind == AlertRule.Kind.DEAD_LETTERS:
        count = records.filter(status=SyncRecord.Status.FAILED, updated_at__gte=since).count()
        return float(count), f"{count} failed record(s) in the last {rule.window_minutes} min"
    if rule.kind == AlertRule.Kind.BACKLOG_AGE:
        events = InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED)
        if rule.connection_id:
            events = events.filter(connection_id=rule.connection_id)
        oldest = events.order_by("received_at").values_list("received_at", flat=True).first()
        minutes = (timezone.now() - oldest).total_seconds() / 60 if oldest else 0.0
        return minutes, f"oldest waiting event is {minutes:.0f} min old"
    if rule.kind == AlertRule.Kind.POLL_STALE:
        flow = rule.flow
        if flow is None or not flow.polled:
            return 0.0, "the rule's flow does not poll"
        if flow.last_poll_error:
            return float("inf"), f"last poll failed: {flow.last_poll_error}"
        minutes = (timezone.now() - flow.last_polled_at).total_seconds() / 60 if flow.last_polled_at else float("inf")
        return minutes, f"last successful poll {minutes:.0f} min ago"
    if rule.kind == AlertRule.Kind.CIRCUIT_OPEN:
        connection = rule.connection
        if connection is None:
            return 0.0, "the rule names no connection"
        connection.refresh_from_db(fields=["circuit", "circuit_opened_at"])
        state = connection.get_circuit_display()
        return (0.0 if connection.circuit == "closed" else 1.0), f"{connection} circuit {state}"
    raise ValueError(f"unknown alert kind {rule.kind}")


def evaluate_alerts() -> int:
    """Check every enabled rule; send what changed. Returns how many messages were sent."""
    sent = 0
    for rule in AlertRule.objects.filter(enabled=True).select_related("flow", "connection"):
        value, description = measure(rule)
        bad = value > rule.threshold
        if bad and not rule.firing:
            sent += notify(rule, f"ALERT {rule.name}: {description}")
            AlertRule.objects.filter(pk=rule.pk).update(firing=True, last_changed_at=timezone.now())
        elif not bad and rule.firing:
            sent += notify(rule, f"RECOVERED {rule.name}: {description}")
            AlertRule.objects.filter(pk=rule.pk).update(firing=False, last_changed_at=timezone.now())
    return sent


def daily_digest() -> int:
    since = timezone.now() - timedelta(days=1)
    records = SyncRecord.objects.filter(updated_at__gte=since)
    text = (f"Integration hub, last 24 h: {records.filter(status=SyncRecord.Status.SYNCED).count()} synced, "
            f"{records.filter(status=SyncRecord.Status.FAILED).count()} failed, "
            f"{records.filter(status=SyncRecord.Status.RETRYING).count()} retrying; "
            f"alerts firing: {', '.join(AlertRule.objects.filter(firing=True).values_list('name', flat=True)) or 'none'}")
    return sum(notify(rule, text) for rule in AlertRule.objects.filter(enabled=True, daily_digest=True))


def notify(rule: AlertRule, text: str) -> int:
    sent = 0
    recipients = [a.strip() for a in rule.emails.split(",") if a.strip()]
    if recipients:
        try:
            send_mail(text[:200], text, settings.DEFAULT_FROM_EMAIL, recipients)
            sent += 1
        except Exception:  # a mail server that is down must not stop the other channel
            log.exception("alert %s: e-mail failed", rule.name)
    if rule.webhook_url:
        try:
            requests.post(rule.webhook_url, json={"text": text}, timeout=10).raise_for_status()
            sent += 1
        except requests.RequestException:
            log.exception("alert %s: webhook failed", rule.name)
    return sent
