"""Every row a batch writes updates every index of its table: the hot tables keep no index that
another one already serves (same leading columns), such as a foreign key's own index beside a unique
constraint that starts with it, or PostgreSQL's second LIKE-prefix index of an indexed CharField."""

import pytest
from django.db import connection

from hub.models import HubWrite, Link
from monitoring.models import InboundEvent, SyncAttempt, SyncRecord

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("model", [InboundEvent, SyncRecord, SyncAttempt, Link, HubWrite])
def test_no_index_of_a_hot_table_is_served_by_another(model):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, model._meta.db_table)
    indexes = {name: tuple(c["columns"]) for name, c in found.items() if c["index"] or c["unique"] or c["primary_key"]}
    redundant = [(name, other) for name, columns in indexes.items() for other, wider in indexes.items()
                 if name != other and wider[:len(columns)] == columns and (len(wider) > len(columns) or name > other)]
    assert not redundant, f"{model.__name__}: indexes served by another one: {redundant}"
