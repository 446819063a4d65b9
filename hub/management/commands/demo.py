"""``make demo``: one command that starts the whole hub on this machine and shows it working.

Starts (and on Ctrl-C stops) the embedded Redis if REDIS_URL is not set, the simulators, the web
server, an RQ worker with its scheduler and the cron scheduler; seeds the demo configuration;
places a few orders in the simulated store and waits until they have reached the simulated M3.
"""

import os
import secrets
import signal
import subprocess
import sys
import time

import requests
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand

from connectors.prestashop.simulator import DEMO_WS_KEY
from hub import demo, embedded_redis, jobs
from hub.models import Link
from monitoring.models import SyncRecord

SAMPLE_ORDERS = [
    {"email": "ada.lovelace@example.org", "firstname": "Ada", "lastname": "Lovelace",
     "address": {"street": "12 St James's Square", "city": "London", "zipcode": "SW1Y 4JH", "country_code": "GB"},
     "shippingMethodName": "Courier", "items": [{"sku": "SKU-0001", "amount": 2}, {"sku": "SKU-0042", "amount": 1}]},
    {"email": "grace.hopper@example.org", "firstname": "Grace", "lastname": "Hopper",
     "address": {"street": "1 Navy Way", "city": "Arlington", "zipcode": "22202", "country_code": "US"},
     "shippingMethodName": "Ground", "items": [{"sku": "SKU-0007", "amount": 5}]},
    {"email": "ada.lovelace@example.org", "firstname": "Ada", "lastname": "Lovelace",
     "address": {"street": "12 St James's Square", "city": "London", "zipcode": "SW1Y 4JH", "country_code": "GB"},
     "items": [{"sku": "SKU-0300", "amount": 1}]},
    # Fails on purpose: M3 has no item SKU-9999. Create it, then Replay the record from the admin.
    {"email": "alan.turing@example.org", "firstname": "Alan", "lastname": "Turing",
     "address": {"street": "Bletchley Park", "city": "Milton Keynes", "zipcode": "MK3 6EB", "country_code": "GB"},
     "items": [{"sku": "SKU-0100", "amount": 1}, {"sku": "SKU-9999", "amount": 1, "price": 25.0}]},
]


PRESTASHOP_ORDER = {
    "email": "grace.hopper@example.org", "firstname": "Grace", "lastname": "Hopper",
    "address": {"address1": "1 Navy Way", "postcode": "22202", "city": "Arlington", "country_code": "US"},
    "items": [{"reference": "SKU-0007", "quantity": 2}, {"reference": "SKU-0012", "quantity": 1}],
}


class Command(BaseCommand):
    help = "Start the hub with simulated X-Cart and M3, seed a demo flow and push sample orders through it."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="web server port")
        parser.add_argument("--simulator-port", type=int, default=8100)
        parser.add_argument("--no-wait", action="store_true", help="exit once the sample orders are synced")

    def handle(self, *args, port, simulator_port, no_wait, **options):
        self.children: list[subprocess.Popen] = []
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        try:
            self.run(port, simulator_port, no_wait)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop_children()

    def spawn(self, name, args):
        self.stdout.write(f"  starting {name}")
        self.children.append(subprocess.Popen([sys.executable, *args], env=os.environ.copy()))

    def stop_children(self):
        # After Ctrl-C the children got the same SIGINT and are shutting down warmly; give them a
        # moment before asking (again, or for the first time when the demo ends by itself).
        deadline = time.monotonic() + 3
        while any(c.poll() is None for c in self.children) and time.monotonic() < deadline:
            time.sleep(0.1)
        # Workers first (they were started last), simulators last, so no job fails on a vanished sandbox.
        for child in reversed(self.children):
            if child.poll() is None:
                child.send_signal(signal.SIGINT)
        for child in reversed(self.children):
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if settings.EMBEDDED_REDIS:
            embedded_redis.stop(settings.DATA_DIR)
        self.stdout.write("stopped everything the demo started")

    def run(self, port, simulator_port, no_wait):
        call_command("migrate", verbosity=0)
        password = secrets.token_urlsafe(9)
        user, _ = User.objects.get_or_create(username="admin", defaults={"is_staff": True, "is_superuser": True})
        user.set_password(password)
        user.save()

        if settings.EMBEDDED_REDIS:
            # Started when Django loaded (hub.apps); the demo owns it and stops it on the way out.
            self.stdout.write(f"  embedded Redis on {settings.REDIS_URL}")
        # Before any worker starts: jobs of the previous run point at the events cleared here.
        jobs.empty_queue()
        cleared = demo.reset_activity()
        if cleared:
            self.stdout.write(f"  cleared {cleared} events of the previous demo run (the simulators start empty)")

        sim_url = f"http://127.0.0.1:{simulator_port}"
        web_url = f"http://127.0.0.1:{port}"
        self.spawn("simulators", ["manage.py", "simulate", "--port", str(simulator_port)])
        self.spawn("web server", ["manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"])
        for n in (1, 2):  # -v 0: RQ's five lines per job would bury the pipeline's one line per record
            self.spawn(f"RQ worker {n}", ["manage.py", "rqworker", "default", "--worker-class", "rq.worker.SimpleWorker",
                                          "-v", "0", *(["--with-scheduler"] if n == 1 else [])])
        wait_for(f"{sim_url}/xcart/_control/faults", "simulators")
        wait_for(f"{web_url}/admin/login/", "web server")

        config = demo.seed(sim_url)
        self.spawn("RQ cron", ["manage.py", "rqcron", "hub.cron"])  # polls start once the sandbox answers
        requests.post(f"{sim_url}/xcart/_sim/addon", timeout=5, json={
            "webhook_url": f"{web_url}/webhooks/{demo.XCART_SLUG}/", "webhook_secret": config["webhook_secret"]})
        requests.post(f"{sim_url}/ionapi/_sim/ion", timeout=5, json={
            "url": f"{web_url}/ion/{demo.M3_SLUG}/v3/multipartMessage", "token": config["ion_token"]})
        requests.post(f"{sim_url}/prestashop/_sim/module", timeout=5, json={
            "webhook_url": f"{web_url}/webhooks/{demo.PRESTASHOP_SLUG}/", "webhook_secret": config["prestashop_secret"]})
        for order in SAMPLE_ORDERS:
            requests.post(f"{sim_url}/xcart/_sim/orders", json=order, timeout=5).raise_for_status()
        requests.post(f"{sim_url}/prestashop/_sim/orders", json=PRESTASHOP_ORDER, timeout=5).raise_for_status()
        self.stdout.write(f"  placed {len(SAMPLE_ORDERS)} orders in the simulated X-Cart store and one in PrestaShop; "
                          "waiting for M3 and Domino...")
        settled = wait_settled(config["flow"], len(SAMPLE_ORDERS)) and wait_settled(config["flows"]["ps_orders"], 1)
        shipped = ship_first_order(sim_url)
        if shipped:
            self.stdout.write(f"  M3 shipped order {shipped} (status 66, UPS tracking): ION sends the BODs back to the store")
        records = SyncRecord.objects.filter(flow=config["flow"])
        synced = records.filter(status=SyncRecord.Status.SYNCED).count()
        failed = records.filter(status=SyncRecord.Status.FAILED).count()

        self.stdout.write(self.style.SUCCESS(f"""
The hub is running{'' if settled else ' (some orders are still on their way)'}.
  Admin:      {web_url}/admin/   login: admin / {password}
  Sync log:   {web_url}/admin/monitoring/syncrecord/   (orders: {synced} synced, {failed} failed)
  Flows:      {web_url}/admin/hub/flow/   ({len(config["flows"])} flows: X-Cart <-> M3, PrestaShop <-> Domino, stock, catalogue,
              customers; polled flows start with an initial load of every record, drained in batches)
  Queues:     {web_url}/admin/rq/
  Simulators: {sim_url}/xcart/api/  (X-Auth-Token demo-xcart-key), {sim_url}/ionapi/,
              {sim_url}/prestashop/api/  (key {DEMO_WS_KEY}), {sim_url}/domino/  (hub/Acme)
  Webhook:    {web_url}/webhooks/{demo.XCART_SLUG}/

One order fails on purpose: M3 has no item SKU-9999. Create it in the simulated M3 with
  .venv/bin/python manage.py m3 {demo.M3_SLUG} MMS200MI/AddItmBasic ITNO=SKU-9999 ITDS="Gift card"
then tick the failed record in the sync log and run the action "Replay selected records".
Place another order:
  curl -s -X POST {sim_url}/xcart/_sim/orders -H 'Content-Type: application/json' \\
       -d '{{"email":"you@example.org","firstname":"You","lastname":"Me","items":[{{"sku":"SKU-0005","amount":1}}]}}'
Press Ctrl-C to stop everything.
"""))
        if no_wait:
            return
        while all(child.poll() is None for child in self.children):
            time.sleep(1)
        self.stderr.write("a process of the demo stopped; stopping the others")


def wait_for(url, name, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not start within {timeout}s at {url}")


def wait_settled(flow, expected, timeout=90):
    deadline = time.monotonic() + timeout
    done = (SyncRecord.Status.SYNCED, SyncRecord.Status.FAILED)
    while time.monotonic() < deadline:
        if SyncRecord.objects.filter(flow=flow, status__in=done).count() >= expected:
            return True
        time.sleep(0.5)
    return False


def ship_first_order(sim_url) -> str | None:
    """Ship the first synced order in the simulated M3, as a warehouse would."""
    link = Link.objects.filter(entity="order", flow__name=demo.ORDER_FLOW).order_by("id").first()
    if link is None:
        return None
    requests.post(f"{sim_url}/ionapi/_sim/orders/{link.target_id}/status", timeout=5,
                  json={"status": "66", "carrier": "UPS", "tracking": "1Z999AA10123456784"}).raise_for_status()
    return link.target_id
