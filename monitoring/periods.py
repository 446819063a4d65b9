"""The years, months or days a log has rows in, found by index look-ups rather than a scan.

The admin's date hierarchy asks ``queryset.datetimes(field, "day")``, which Django answers with
``SELECT DISTINCT DATE_TRUNC(...)`` over every row: 100-150 ms at 1M sync records, on every list
page (bench/growth.py). A log has few periods and many rows per period, so asking for the first row
at or after the start of each next period ("skip scan") reads one index entry per period instead.
"""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

# More periods than this and the skip scan's round trips cost more than one scan would.
MAX_PERIODS = 400


def _start_of(moment: datetime, kind: str) -> datetime:
    day = moment.date().replace(**{"year": {"month": 1, "day": 1}, "month": {"day": 1}}.get(kind, {}))
    return datetime.combine(day, time(), tzinfo=moment.tzinfo)


def _after(start: datetime, kind: str) -> datetime:
    day = start.date()
    if kind == "year":
        day = day.replace(year=day.year + 1)
    elif kind == "month":
        day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        day += timedelta(days=1)
    return datetime.combine(day, time(), tzinfo=start.tzinfo)


class LogQuerySet(models.QuerySet):
    """The queryset of the sync log's tables; ``datetimes`` answers as Django's does, as a list."""

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None):
        if kind not in ("year", "month", "day") or not settings.USE_TZ or "__" in field_name:
            return list(super().datetimes(field_name, kind, order, tzinfo))
        zone = tzinfo or timezone.get_current_timezone()
        rows = self.order_by()
        found, floor = [], None
        while len(found) <= MAX_PERIODS:
            page = rows if floor is None else rows.filter(**{f"{field_name}__gte": floor})
            first = page.aggregate(first=models.Min(field_name))["first"]
            if first is None:
                return found if order == "ASC" else found[::-1]
            found.append(_start_of(first.astimezone(zone), kind))
            floor = _after(found[-1], kind)
        return list(super().datetimes(field_name, kind, order, tzinfo))
