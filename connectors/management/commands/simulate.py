"""``python manage.py simulate``: the sandbox, every simulated system on one port of 127.0.0.1."""

import json

from django.core.management.base import BaseCommand, CommandError

from connectors.domino.simulator import DEMO_PASSWORD as DOMINO_PASSWORD
from connectors.domino.simulator import DEMO_USER as DOMINO_USER
from connectors.infor_m3.simulator import demo_ionapi
from connectors.prestashop.simulator import DEMO_WS_KEY
from connectors.simulators import SimulatorServer


class Command(BaseCommand):
    help = "Serve the sandbox simulators on 127.0.0.1 (/xcart/, /prestashop/, /ionapi/, /domino/)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--xcart-webhook-url", help="where the simulated store add-on pushes order webhooks")
        parser.add_argument("--xcart-webhook-secret", help="whsec_... secret the add-on signs with")
        parser.add_argument("--fault", action="append", default=[], metavar="SYSTEM.SETTING=VALUE",
                            help="e.g. ionapi.error_rate=0.1, xcart.latency_ms=50, domino.conflict_next=2 (repeatable); "
                                 "change at run time with POST /<system>/_control/faults")

    def handle(self, *args, port, xcart_webhook_url, xcart_webhook_secret, fault, **options):
        server = SimulatorServer(port=port)
        systems = server.systems
        for spec in fault:
            name, _, value = spec.partition("=")
            system, _, setting = name.partition(".")
            if system not in systems or not setting or not value:
                raise CommandError(f"--fault {spec!r}: expected SYSTEM.SETTING=VALUE with SYSTEM one of {', '.join(systems)}")
            try:
                systems[system].faults.update({setting: json.loads(value)})
            except ValueError as exc:
                raise CommandError(f"--fault {spec!r}: {exc}") from None
        if xcart_webhook_url:
            server.xcart.webhook_url, server.xcart.webhook_secret = xcart_webhook_url, xcart_webhook_secret
        ionapi = demo_ionapi(server.ionapi_url)
        self.stdout.write(
            f"Simulators on {server.url}\n"
            f"  X-Cart 5.5 API  {server.xcart_url}/api/   X-Auth-Token: {server.xcart.api_key}\n"
            f"  PrestaShop      {server.prestashop_url}/api/   Webservice key: {DEMO_WS_KEY}\n"
            f"  ION API + M3    {server.ionapi_url}/      client {ionapi['ci']} / service account {ionapi['saak']}\n"
            f"  HCL Domino      {server.domino_url}/      {DOMINO_USER} / {DOMINO_PASSWORD}\n"
            f"  faults          GET|POST {server.url}/<{'|'.join(systems)}>/_control/faults\n"
        )
        try:
            server.start()._thread.join()
        except KeyboardInterrupt:
            server.stop()
