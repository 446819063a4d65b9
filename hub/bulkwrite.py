"""Many rows written in one statement, without the ORM's per-row machinery.

``update_rows``: Django's ``bulk_update`` builds a CASE WHEN expression per field and row, which costs
~5 ms a row in Python for a batch's sync records. This writes ``WITH v(id, f1, ...) AS (VALUES (...),
...) UPDATE t SET f1 = v.f1 ... FROM v WHERE t.id = v.id`` instead, which PostgreSQL and SQLite (3.33+)
both run, with the values prepared by each field as Django would save them.

``insert_rows``: ``bulk_create`` without its per-row machinery, and on PostgreSQL without psycopg's
array quoting. Django 5.2's ``bulk_create`` sends each column as one array (``INSERT ... SELECT * FROM
UNNEST(%s::text[], ...)``, which PostgreSQL plans and runs faster than many rows of VALUES), but with
client-side binding psycopg quotes those arrays in Python, a regular expression substitution per
escaped character: for a batch's attempts (their calls as JSON, full of quotes) that was a third of a
worker's time. Here the same statement gets array literals made with ``str.replace``, one text
parameter per column (on SQLite, rows of VALUES). Values are prepared as Django saves them
(``pre_save``, so ``auto_now`` and ``auto_now_add`` are set, then ``get_db_prep_save``; plain text and
integer columns are read straight from the attribute, which is what those give), the new primary keys
are set on the objects, and no signals are sent, all as with ``bulk_create``.
"""

import datetime
import json
from contextlib import contextmanager

from django.core.exceptions import EmptyResultSet
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import F
from django.db.models.lookups import In

from connectors import jsonio

try:
    from psycopg.types.json import _JsonWrapper  # Json / Jsonb, what JSONField gives on PostgreSQL
except ImportError:  # no psycopg (SQLite), or it moved: JSON values then go by the VALUES statement
    class _JsonWrapper:
        pass

ROWS_PER_STATEMENT = 500
MAX_PARAMS = 30_000  # per statement: under PostgreSQL's 65,535 and SQLite's 32,766 (3.32+)


def update_rows(model, objs: list, field_names: list[str]) -> None:
    if not objs:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    table = connection.ops.quote_name(model._meta.db_table)
    pk = connection.ops.quote_name(model._meta.pk.column)
    columns = [connection.ops.quote_name(field.column) for field in fields]
    postgres = connection.vendor == "postgresql"
    # PostgreSQL types VALUES from the first row's text: say what each column is.
    casts = ["::bigint"] + [f"::{field.db_type(connection).split('(')[0]}" for field in fields] if postgres \
        else [""] * (len(fields) + 1)
    row = "(" + ", ".join(f"%s{cast}" for cast in casts) + ")"
    assignments = ", ".join(f"{column} = v.{column}" for column in columns)
    with connection.cursor() as cursor:
        for start in range(0, len(objs), ROWS_PER_STATEMENT):
            chunk = objs[start:start + ROWS_PER_STATEMENT]
            params = []
            for obj in chunk:
                params.append(obj.pk)
                params += [field.get_db_prep_save(getattr(obj, field.attname), connection) for field in fields]
            sql = (f"WITH v({pk}, {', '.join(columns)}) AS (VALUES {', '.join([row] * len(chunk))}) "
                   f"UPDATE {table} SET {assignments} FROM v WHERE {table}.{pk} = v.{pk}")
            cursor.execute(sql, params)


class AnyOf(In):
    """``field IN (...)`` that PostgreSQL gets as ``field = ANY(%s)``, the values in one array.

    A batch's look-ups name 200 ids each; as 200 ``%s`` the statement is too long for psycopg's cache
    of parsed statements (50 parameters at most), so each was parsed again, a regular expression match
    per placeholder. Elsewhere (SQLite) it is ``IN``."""

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql" or not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        values = [value for value in dict.fromkeys(self.rhs) if value is not None]
        if not values:
            raise EmptyResultSet
        field = self.lhs.output_field
        values = [field.get_db_prep_value(value, connection, prepared=True) for value in values]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = ANY(%s)", (*lhs_params, values)


def any_of(field_name: str, values) -> AnyOf:
    """``filter(any_of("source_id", ids))``: ``filter(source_id__in=ids)``, cheaper for many ids."""
    return AnyOf(F(field_name), list(values))


def one_of(column: str) -> str:
    """SQL saying ``column`` is one of a list given as a single parameter (``list_param``): ``= ANY(%s)``
    on PostgreSQL, ``IN (SELECT value FROM json_each(%s))`` on SQLite, so a statement's text does not
    depend on the list's length. The batch path writes its look-ups this way, as plain SQL: building and
    compiling a queryset cost 0.3-0.7 ms of Python a statement, more than the database took to run it."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)"
    return f"{column} IN (SELECT value FROM json_each(%s))"


def list_param(values) -> list | str:
    """The parameter for ``one_of``: the values as a list (an array) on PostgreSQL, as JSON on SQLite."""
    values = list(dict.fromkeys(values))
    return values if connection.vendor == "postgresql" else json.dumps(values)


@contextmanager
def pipelined():
    """On PostgreSQL, psycopg's pipeline mode for the statements run inside: each is sent without
    waiting for the answer to the one before, and the client waits once, when it reads a result (rows,
    a RETURNING) or at the end. A batch's four look-ups are then one round trip instead of four (its
    writes: ``pipelined_transaction``); each is a wait for the database process to be scheduled, which
    on a loaded machine is what made a batch slow. A failed statement's error is raised there, the
    statements after it are not run, and a transaction is rolled back as usual. Read no ``rowcount``
    inside (it is not known yet); Django's query log has no text for the statements sent this way."""
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.connection.pipeline():
        yield


@contextmanager
def pipelined_transaction():
    """One transaction whose statements are pipelined, BEGIN and COMMIT with them. ``atomic()`` around
    ``pipelined()`` costs two round trips more than the statements need: psycopg waits for the answer
    to its BEGIN in pipeline mode, and Django's COMMIT goes after the pipeline has ended. Here BEGIN
    is sent ahead of the first statement and COMMIT before the pipeline's one sync, so a batch's write
    waits three times (the new records' ids, the attempts' ids, the end) instead of five. An error
    anywhere rolls the whole of it back and is raised as Django's error. Inside an atomic block (a
    test, a caller's transaction), and on SQLite, this is ``atomic()`` with ``pipelined()``. Nothing
    in the block may use ``transaction.on_commit`` or ``atomic()``: Django does not know this
    transaction."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or not connection.get_autocommit():
        with transaction.atomic(), pipelined():
            yield
        return
    connection.ensure_connection()
    raw = connection.connection
    with connection.wrap_database_errors:  # what psycopg raises at the sync, as Django's cursors raise it
        try:
            with raw.pipeline():
                raw.execute("BEGIN")
                yield
                raw.execute("COMMIT")
        except BaseException:
            _roll_back(raw)
            raise


def _roll_back(raw) -> None:
    """End a failed pipelined transaction; a connection that cannot is closed (Django opens a new one)."""
    from psycopg import pq

    try:
        if raw.info.transaction_status != pq.TransactionStatus.IDLE:
            raw.execute("ROLLBACK")
    except Exception:
        connection.close()


def _foreign_keys(model) -> list:
    return [f for f in model._meta.concrete_fields if f.is_relation and f.many_to_one]


def binding_cursor(db=None):
    """On PostgreSQL a cursor that sends the values as parameters: Django's own cursor binds them into
    the SQL text on the client, which for raw webhook bodies was a tenth of ingest's CPU time. Wrapped
    as Django wraps its own (errors, the query log)."""
    db = db or connections[DEFAULT_DB_ALIAS]
    db.ensure_connection()
    if db.vendor != "postgresql":
        return db.cursor()
    import psycopg

    raw = psycopg.Cursor(db.connection)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


def insert_rows(model, objs: list, *, ignore_conflicts: bool = False, update_conflicts: bool = False,
                unique_fields: list[str] | None = None, update_fields: list[str] | None = None) -> list | None:
    """INSERT ``objs`` (new, unsaved model instances) in as few statements as fit, and set their
    primary keys as ``bulk_create`` does. ``ignore_conflicts`` skips rows a unique constraint refuses
    (their pk stays None); with ``unique_fields`` too, only a conflict on those is skipped and the
    rows inserted are returned as (pk, *unique columns), their objects left as they were.
    ``update_conflicts`` overwrites ``update_fields`` of the row holding ``unique_fields`` (the pk is
    then not read back)."""
    db = connections[DEFAULT_DB_ALIAS]  # the connection itself: the proxy costs a lookup per use
    plan = _insert_plan(model, db.vendor, ignore_conflicts, update_conflicts, tuple(unique_fields or ()),
                        tuple(update_fields or ()))
    if not objs:
        return [] if plan.returns_keys else None
    inserted = [] if plan.returns_keys else None
    with binding_cursor(db) as cursor:
        for start in range(0, len(objs), plan.per_statement):
            chunk = objs[start:start + plan.per_statement]
            for obj in chunk:
                for fk in plan.foreign_keys:  # an object made before its related one was saved
                    if getattr(obj, fk.attname) is None and fk.is_cached(obj):
                        related = fk.get_cached_value(obj)
                        if related is not None:
                            setattr(obj, fk.attname, related.pk)
            arrays = None
            if plan.unnest:
                try:
                    arrays = ["{" + ",".join([write(obj, db) for obj in chunk]) + "}" for write in plan.writers]
                except TypeError:  # a value of a type the array literals do not write: VALUES, below
                    arrays = None
            if arrays is not None:
                cursor.execute(plan.unnest, arrays)
            else:
                rows = [[prepare(obj, db) for prepare in plan.preparers] for obj in chunk]
                cursor.execute(plan.head + "VALUES " + ", ".join([plan.row] * len(chunk)) + plan.suffix,
                               [value for values in rows for value in values])
            if plan.returns_keys:
                inserted += cursor.fetchall()
                continue
            if plan.returning:
                for obj, (pk,) in zip(chunk, cursor.fetchall()):
                    obj.pk = pk
            for obj in chunk:
                obj._state.adding, obj._state.db = False, db.alias
    return inserted


class _InsertPlan:
    """What ``insert_rows`` needs of a model, worked out once per process: a batch inserts into the
    same four tables every time, and the columns, types and statement text never change."""

    def __init__(self, model, vendor, ignore_conflicts, update_conflicts, unique_fields, update_fields):
        db = connections[DEFAULT_DB_ALIAS]
        meta = model._meta
        quote = db.ops.quote_name
        self.fields = [f for f in meta.concrete_fields if not f.primary_key]
        self.foreign_keys = _foreign_keys(model)
        columns = ", ".join(quote(f.column) for f in self.fields)
        self.suffix = ""
        self.returning = not (ignore_conflicts or update_conflicts)
        self.returns_keys = ignore_conflicts and bool(unique_fields)
        if self.returns_keys:
            keys = [quote(meta.pk.column)] + [quote(meta.get_field(name).column) for name in unique_fields]
            self.suffix = f" ON CONFLICT ({', '.join(keys[1:])}) DO NOTHING RETURNING {', '.join(keys)}"
        elif ignore_conflicts:
            self.suffix = " ON CONFLICT DO NOTHING"
        elif update_conflicts:
            targets = ", ".join(quote(meta.get_field(name).column) for name in unique_fields)
            sets = ", ".join(f"{quote(meta.get_field(name).column)} = EXCLUDED.{quote(meta.get_field(name).column)}"
                             for name in update_fields)
            self.suffix = f" ON CONFLICT ({targets}) DO UPDATE SET {sets}"
        if self.returning:
            self.suffix += f" RETURNING {quote(meta.pk.column)}"
        self.head = f"INSERT INTO {quote(meta.db_table)} ({columns}) "
        self.row = "(" + ", ".join(["%s"] * len(self.fields)) + ")"
        postgres = vendor == "postgresql"
        self.per_statement = ROWS_PER_STATEMENT if postgres else max(
            1, min(ROWS_PER_STATEMENT, MAX_PARAMS // len(self.fields)))
        self.unnest = None
        if postgres:
            self.unnest = (self.head + "SELECT * FROM UNNEST("
                           + ", ".join(f"%s::{f.db_type(db).split('(')[0]}[]" for f in self.fields) + ")" + self.suffix)
        self.writers = [_element_writer(f) for f in self.fields] if postgres else None
        self.preparers = [_value_preparer(f) for f in self.fields]


_plans: dict[tuple, _InsertPlan] = {}


def _insert_plan(model, vendor, *options) -> _InsertPlan:
    key = (model, vendor, *options)
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = _InsertPlan(model, vendor, *options)
    return plan


_TEXT_FIELDS = (models.CharField, models.TextField)
_INTEGER_FIELDS = (models.IntegerField, models.PositiveIntegerField, models.PositiveSmallIntegerField,
                   models.SmallIntegerField, models.BigIntegerField, models.PositiveBigIntegerField,
                   models.AutoField, models.BigAutoField)


def _plain_json(field) -> bool:
    return type(field) is models.JSONField and field.encoder is None


def _value_preparer(field):
    """(obj, db) -> the field's parameter for a row of VALUES: as Django saves it, JSON written by
    connectors.jsonio as in the arrays, so both ways store the same."""
    def prepared(obj, db):
        return field.get_db_prep_save(field.pre_save(obj, True), db)

    if not _plain_json(field):
        return prepared

    def json_text(obj, db):
        value = getattr(obj, field.attname)
        if value is None or hasattr(value, "resolve_expression"):
            return prepared(obj, db)
        return jsonio.dumps(value)
    return json_text


def _element_writer(field):
    """(obj, db) -> the field's value as an array element: plain text and integer columns straight from
    the attribute (what their ``get_db_prep_save`` would give: ``str()`` / ``int()`` of it, or NULL),
    every other field by its own ``pre_save`` and ``get_db_prep_save`` (``auto_now``, JSON, dates...)."""
    attname = field.attname
    kind = type(field.target_field) if field.is_relation else type(field)
    if kind in _TEXT_FIELDS and not field.is_relation:
        def text(obj, db):
            value = getattr(obj, attname)
            return "NULL" if value is None else _quoted(value if value.__class__ is str else str(value))
        return text
    if kind in _INTEGER_FIELDS:
        def integer(obj, db):
            value = getattr(obj, attname)
            return "NULL" if value is None else int.__repr__(int(value))
        return integer
    if _plain_json(field):  # the JSON text the VALUES way sends, as an element
        prepare = _value_preparer(field)
        return lambda obj, db: _array_element(prepare(obj, db))
    generic = lambda obj, db: _array_element(field.get_db_prep_save(field.pre_save(obj, True), db))  # noqa: E731
    if kind is models.DateTimeField:
        def moment(obj, db):  # pre_save sets auto_now(_add); an aware datetime is saved as it is
            value = field.pre_save(obj, True)
            if value is None:
                return "NULL"
            if value.__class__ is datetime.datetime and value.tzinfo is not None:
                return '"' + value.isoformat() + '"'
            return generic(obj, db)
        return moment
    return generic


def _quoted(text: str) -> str:
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if '"' in text:
        text = text.replace('"', '\\"')
    return '"' + text + '"'


def _array_element(value) -> str:
    """One value as an element of a PostgreSQL array literal (quoted, so any text is taken as is)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, int):  # psycopg's Int4, Int8... are ints with their own repr
        return int.__repr__(value)
    if isinstance(value, float):
        return '"' + float.__repr__(value) + '"'
    if isinstance(value, str):
        text = value
    elif isinstance(value, _JsonWrapper):
        text = (jsonio.dumps if value.dumps in (None, json.dumps) else value.dumps)(value.obj)
    elif isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        text = value.isoformat()
    else:
        raise TypeError(type(value).__name__)
    return _quoted(text)
