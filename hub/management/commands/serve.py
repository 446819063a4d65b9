"""``manage.py serve``: the hub's web tier as production runs it (Granian serving hub.wsgi).

Why Granian and these defaults: its HTTP side is Rust, so parsing and keep-alive cost the Python
interpreter nothing, and one process with several threads lets concurrent webhooks share one
commit (connectors.ingest). On 2 cores one worker process leaves the other core to PostgreSQL and
the RQ workers; add workers on larger machines. ``bench/RESULTS.md`` has the figures behind this.
The admin's static files are served from STATIC_ROOT (``manage.py collectstatic`` fills it).
"""

import os
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


def granian_args(host: str, port: int, workers: int, threads: int) -> list[str]:
    args = [sys.executable, "-m", "granian", "--interface", "wsgi", "hub.wsgi:application", "--host", host,
            "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads), "--backlog", "2048",
            "--no-ws", "--log-level", "warning", "--respawn-failed-workers"]
    if os.path.isdir(settings.STATIC_ROOT):
        args += ["--static-path-route", "/" + settings.STATIC_URL.strip("/"), "--static-path-mount",
                 str(settings.STATIC_ROOT)]
    return args


class Command(BaseCommand):
    help = "Serve the hub (Granian, WSGI): webhooks, the API and the admin."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("HUB_WEB_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("HUB_WEB_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("HUB_WEB_WORKERS", "1")),
                            help="processes (default 1; about one per 2 cores)")
        parser.add_argument("--threads", type=int, default=int(os.environ.get("HUB_WEB_THREADS", "8")),
                            help="threads per process running Django (default 8)")

    def handle(self, *args, host, port, workers, threads, **options):
        argv = granian_args(host, port, workers, threads)
        self.stdout.write(f"serving on http://{host}:{port}/ ({workers} process(es) x {threads} threads)")
        self.stdout.flush()
        os.execv(argv[0], argv)  # Granian replaces this process: signals reach it directly
