"""Many rows updated with their own values in one statement.

Django's ``bulk_update`` builds a CASE WHEN expression per field and row, which costs ~5 ms a row in
Python for a batch's sync records. This writes ``WITH v(id, f1, ...) AS (VALUES (...), ...) UPDATE t
SET f1 = v.f1 ... FROM v WHERE t.id = v.id`` instead, which PostgreSQL and SQLite (3.33+) both run,
with the values prepared by each field as Django would save them.
"""

from django.db import connection

ROWS_PER_STATEMENT = 500


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
