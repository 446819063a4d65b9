"""The date hierarchy's periods, found by index look-ups, are exactly the ones Django's scan finds."""

from datetime import datetime, timezone as dt_timezone

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from connectors.models import Connection
from monitoring.models import InboundEvent

pytestmark = pytest.mark.django_db

MOMENTS = [  # UTC; in Paris the second is already 1 January 2026 and the fourth 1 March
    datetime(2025, 6, 15, 12, 0), datetime(2025, 12, 31, 23, 30), datetime(2026, 2, 3, 8, 0),
    datetime(2026, 2, 28, 23, 10), datetime(2026, 2, 3, 9, 0), datetime(2026, 3, 9, 10, 0),
]


@pytest.fixture
def events():
    shop = Connection.objects.create(name="shop", slug="shop", kind="xcart", auth_kind="api_token")
    for n, moment in enumerate(MOMENTS):
        event = InboundEvent.objects.create(connection=shop, idempotency_key=f"m{n}", topic=f"t{n % 2}",
                                            source_id=str(n), body="{}")
        InboundEvent.objects.filter(pk=event.pk).update(received_at=moment.replace(tzinfo=dt_timezone.utc))
    return InboundEvent.objects.all()


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York"])
@pytest.mark.parametrize("kind", ["year", "month", "day"])
@pytest.mark.parametrize("order", ["ASC", "DESC"])
def test_periods_match_djangos_own_answer(events, zone, kind, order):
    with timezone.override(zone):
        for rows in (events, events.filter(topic="t1"), events.filter(topic="none")):
            expected = list(models.QuerySet.datetimes(rows, "received_at", kind, order))
            assert rows.datetimes("received_at", kind, order) == expected


def test_the_events_list_draws_its_date_hierarchy_without_scanning_the_log(admin_client, events):
    with CaptureQueriesContext(connection) as queries:
        page = admin_client.get("/admin/monitoring/inboundevent/?received_at__year=2026&received_at__month=2")
    assert page.status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "DISTINCT" in q["sql"] and "received_at" in q["sql"]]
    html = page.content.decode()
    for day in (3, 28):  # February's days with events, in the site's time zone (UTC in the tests)
        assert f"received_at__day={day}&amp;received_at__month=2&amp;received_at__year=2026" in html
    assert "received_at__day=4&amp;" not in html
