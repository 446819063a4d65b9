"""Run one M3 MI transaction through a connection: ``manage.py m3 <slug> PROGRAM/TRANSACTION FIELD=value ...``.

For integrators checking what M3 answers, with the connection's stored credentials.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from connectors.base import ConnectorError
from connectors.models import Connection


class Command(BaseCommand):
    help = "Call an M3 MI transaction with a connection's credentials and print the records."

    def add_arguments(self, parser):
        parser.add_argument("connection", help="slug of an Infor M3 connection")
        parser.add_argument("transaction", help="e.g. MMS200MI/GetItmBasic")
        parser.add_argument("fields", nargs="*", help="FIELD=value inputs, e.g. ITNO=SKU-0001")

    def handle(self, *args, connection, transaction, fields, **options):
        try:
            conn = Connection.objects.get(slug=connection, kind="infor_m3")
        except Connection.DoesNotExist:
            raise CommandError(f"no Infor M3 connection '{connection}'") from None
        program, _, trans = transaction.partition("/")
        if not trans:
            raise CommandError("give the transaction as PROGRAM/TRANSACTION, e.g. MMS200MI/GetItmBasic")
        inputs = dict(f.split("=", 1) for f in fields if "=" in f)
        try:
            records = conn.connector().mi(program, trans, inputs)
        except ConnectorError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(json.dumps(records, indent=2))
