"""The admin's home: per flow, what moved and what failed over time, how late, and what waits.

Charts are inline SVG drawn here (no JavaScript library, no CDN): bars per time bucket, synced
above failed. Every figure links to the records behind it. The page reloads itself every 30 s.
"""

from datetime import timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDay, TruncHour
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from connectors.models import Connection
from hub.models import Flow
from monitoring import health
from monitoring.models import AlertRule, InboundEvent, SyncRecord

WINDOWS = {"hour": (timedelta(hours=1), TruncHour, 1), "day": (timedelta(days=1), TruncHour, 24),
           "week": (timedelta(days=7), TruncDay, 7)}


def context(window: str = "day") -> dict:
    span, trunc, buckets = WINDOWS.get(window, WINDOWS["day"])
    now = timezone.now()
    since = now - span
    records_url = reverse("admin:monitoring_syncrecord_changelist")
    counts = (SyncRecord.objects.filter(updated_at__gte=since)
              .annotate(bucket=trunc("updated_at"))
              .values("flow_id", "bucket")
              .annotate(synced=Count("id", filter=Q(status=SyncRecord.Status.SYNCED)),
                        failed=Count("id", filter=Q(status=SyncRecord.Status.FAILED))))
    by_flow: dict[int, dict] = {}
    for row in counts:
        by_flow.setdefault(row["flow_id"], {})[row["bucket"]] = (row["synced"], row["failed"])
    flows = []
    for flow in Flow.objects.select_related("source", "target").order_by("name"):
        series = by_flow.get(flow.pk, {})
        synced = sum(s for s, _ in series.values())
        failed = sum(f for _, f in series.values())
        if not flow.enabled and not series:
            continue
        flows.append({
            "flow": flow, "synced": synced, "failed": failed,
            "error_rate": f"{failed / (synced + failed):.0%}" if synced + failed else "-",
            "latency": _latency(flow, since),
            "chart": _chart(series, now, trunc, buckets),
            "synced_url": f"{records_url}?flow__id__exact={flow.pk}&status__exact=synced",
            "failed_url": f"{records_url}?flow__id__exact={flow.pk}&status__exact=failed",
            "last_poll": flow.last_polled_at if flow.polled else None, "poll_error": flow.last_poll_error,
        })
    waiting = InboundEvent.objects.filter(status=InboundEvent.Status.RECEIVED)
    oldest = waiting.order_by("received_at").values_list("received_at", flat=True).first()
    liveness = {name: _check(check) for name, check in health.CHECKS.items()}
    try:
        queue_depth = len(health.jobs._queue())
    except Exception:  # Redis down: the liveness row says so
        queue_depth = "?"
    return {
        "window": window, "windows": list(WINDOWS), "flows": flows,
        "backlog": waiting.count(), "backlog_oldest": oldest, "queue_depth": queue_depth,
        "backlog_url": reverse("admin:monitoring_inboundevent_changelist") + "?status__exact=received",
        "liveness": liveness, "alerts": AlertRule.objects.filter(firing=True),
        "connections": Connection.objects.order_by("name").only("name", "enabled", "circuit", "circuit_opened_at"),
        "error_groups_url": reverse("admin:monitoring_syncrecord_error_groups"),
    }


def _check(check):
    try:
        return True, check()
    except Exception as exc:  # shown on the page, whatever it is
        return False, str(exc)


def _latency(flow: Flow, since) -> str:
    """p50 / p95 from the event's arrival to its delivery, over the window's synced records."""
    pairs = (SyncRecord.objects.filter(flow=flow, status=SyncRecord.Status.SYNCED, synced_at__gte=since)
             .values_list("event__received_at", "synced_at").order_by("-id")[:5000])
    seconds = sorted((done - received).total_seconds() for received, done in pairs if received and done)
    if not seconds:
        return "-"
    def pick(q):
        return seconds[min(len(seconds) - 1, int(q * len(seconds)))]
    return f"{pick(0.5):.2f} s / {pick(0.95):.2f} s"


def _chart(series: dict, now, trunc, buckets: int) -> str:
    """Bars per bucket, synced (green) on top of failed (red), as inline SVG."""
    step = timedelta(days=1) if trunc is TruncDay else timedelta(hours=1)
    start = (now - step * (buckets - 1)).replace(minute=0, second=0, microsecond=0)
    if trunc is TruncDay:
        start = start.replace(hour=0)
    values = []
    for i in range(buckets):
        moment = start + step * i
        synced, failed = next(((s, f) for b, (s, f) in series.items() if abs((b - moment).total_seconds()) < 1), (0, 0))
        values.append((moment, synced, failed))
    top = max((s + f for _, s, f in values), default=0) or 1
    width, height, bar = 240, 40, 240 / buckets
    def n(x):
        return f"{x:.1f}"

    bars = format_html_join("", '<g><title>{}: {} synced, {} failed</title>'
                                '<rect x="{}" y="{}" width="{}" height="{}" fill="#3a3"/>'
                                '<rect x="{}" y="{}" width="{}" height="{}" fill="#c33"/></g>',
                            ((m.strftime("%d %b %H:%M"), s, f,
                              n(i * bar), n(height - (s + f) / top * height), n(bar * 0.8), n(s / top * height),
                              n(i * bar), n(height - f / top * height), n(bar * 0.8), n(f / top * height))
                             for i, (m, s, f) in enumerate(values)))
    return format_html('<svg width="{}" height="{}" role="img" aria-label="synced and failed over time">{}</svg>',
                       width, height, bars)
