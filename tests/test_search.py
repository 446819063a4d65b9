"""Search by what a person has in hand: ids exactly anywhere in the log, text in the newest rows only."""

import pytest

from connectors.models import Connection
from monitoring import search
from monitoring.models import InboundEvent

pytestmark = pytest.mark.django_db


def test_ids_are_found_anywhere_and_payload_text_in_the_newest_events(monkeypatch):
    shop = Connection.objects.create(name="shop", slug="shop", kind="xcart", auth_kind="api_token")
    old = InboundEvent.objects.create(connection=shop, idempotency_key="msg_old", topic="order.created",
                                      source_id="1001", body='{"email": "old@example.org"}')
    new = InboundEvent.objects.create(connection=shop, idempotency_key="msg_new", topic="order.created",
                                      source_id="1002", body='{"email": "new@example.org"}')
    monkeypatch.setattr(search, "RECENT", 1)  # only the newest event's text is searched
    assert search.event_ids("new@example.org") == [new.pk]
    assert search.event_ids("old@example.org") == []  # too old for a text search...
    assert search.event_ids("1001") == [old.pk]  # ...but its record id is found exactly
    assert search.event_ids("msg_old") == [old.pk]  # and so is its webhook id
    assert search.event_ids("100") == []  # ids match exactly, not as a part
    assert search.event_ids("  ") == []


def test_payload_text_is_found_in_any_case_of_its_letters():
    shop = Connection.objects.create(name="shop", slug="shop", kind="xcart", auth_kind="api_token")
    event = InboundEvent.objects.create(connection=shop, idempotency_key="m1", topic="order.created",
                                        source_id="7", body='{"reference": "XKBKNABJK", "email": "Ann@Example.org"}')
    assert search.event_ids("xkbknabjk") == [event.pk]
    assert search.event_ids("ann@example.ORG") == [event.pk]
    assert search.event_ids("XKBKNABJQ") == []
