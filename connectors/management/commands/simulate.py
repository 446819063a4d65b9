"""``python manage.py simulate``: the sandbox, every simulated system on one port of 127.0.0.1."""

import json

from django.core.management.base import BaseCommand, CommandError

from connectors.infor_m3.simulator import demo_ionapi
from connectors.simulators import SimulatorServer


class Command(BaseCommand):
    help = "Serve the X-Cart and Infor M3 simulators on 127.0.0.1 (under /xcart/ and /ionapi/)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8100)
        parser.add_argument("--xcart-webhook-url", help="where the simulated store add-on pushes order webhooks")
        parser.add_argument("--xcart-webhook-secret", help="whsec_... secret the add-on signs with")
        parser.add_argument("--fault", action="append", default=[], metavar="SYSTEM.SETTING=VALUE",
                            help="e.g. ionapi.error_rate=0.1, xcart.latency_ms=50, ionapi.down=true (repeatable); "
                                 "change at run time with POST /<system>/_control/faults")

    def handle(self, *args, port, xcart_webhook_url, xcart_webhook_secret, fault, **options):
        server = SimulatorServer(port=port)
        systems = {"xcart": server.xcart, "ionapi": server.m3}
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
            f"  ION API + M3    {server.ionapi_url}/      client {ionapi['ci']} / service account {ionapi['saak']}\n"
            f"  faults          GET|POST {server.url}/<xcart|ionapi>/_control/faults\n"
        )
        try:
            server.start()._thread.join()
        except KeyboardInterrupt:
            server.stop()
