"""Model instances from plain SQL, for the batch path's reads.

``Model.objects.raw()`` works out, on every call, which of the cursor's columns are which fields and
what converts each value (through the column names, the introspection's name converter and every
field's converters): for the batch path's three reads of a few rows each that cost more than the
rows themselves (about a tenth of a one-event batch's worker time). Here that is worked out once per
model: the statement selects every concrete column in the model's own order (``columns(model)``),
each row goes through the converters Django's compiler would apply, and ``Model.from_db`` makes the
instance, as ``raw()`` and querysets do.
"""

from django.db import connection

_plans: dict[tuple, tuple] = {}


def _plan(model) -> tuple:
    """(column list as SQL, attribute names, [(index, column, converters)]) for the model on this database."""
    key = (model, connection.vendor)
    plan = _plans.get(key)
    if plan is None:
        fields = model._meta.concrete_fields
        quote = connection.ops.quote_name
        converters = []
        for index, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            found = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
            if found:
                converters.append((index, column, found))
        plan = _plans[key] = (", ".join(quote(f.column) for f in fields), [f.attname for f in fields], converters)
    return plan


def columns(model) -> str:
    """Every concrete column of the model, in the order ``instances`` reads them."""
    return _plan(model)[0]


class Pending:
    """A statement sent now and answered when read: inside ``bulkwrite.pipelined()`` several reach
    PostgreSQL in one round trip. ``model``: the rows are read as its instances (the statement selects
    ``columns(model)``), else as tuples."""

    def __init__(self, sql: str, params, model=None):
        self.model = model
        self._cursor = connection.cursor()
        self._cursor.execute(sql, params)

    def result(self) -> list:
        try:
            rows = self._cursor.fetchall()
        finally:
            self._cursor.close()
        return rows if self.model is None else _instances(self.model, rows)


def instances(model, sql: str, params) -> list:
    """Run ``sql`` (selecting or returning ``columns(model)``, in that order) and return the rows as
    instances of ``model``, their values converted as a queryset would."""
    return Pending(sql, params, model).result()


def _instances(model, rows) -> list:
    _, names, converters = _plan(model)
    alias = connection.alias
    objs = []
    for row in rows:
        if converters:
            row = list(row)
            for index, column, functions in converters:
                value = row[index]
                for convert in functions:
                    value = convert(value, column, connection)
                row[index] = value
        objs.append(model.from_db(alias, names, row))
    return objs
