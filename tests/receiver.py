"""A webhook endpoint for tests: what the simulators' add-ons, modules and agents push arrives here."""

import threading
import time

from werkzeug.datastructures import Headers
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response


class Receiver:
    """A webhook endpoint on a free port that records what it gets; the first `failures` answers are 503."""

    def __init__(self, failures=0):
        self.failures = failures
        self.received = []
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def app(self, environ, start_response):
        request = Request(environ)
        self.received.append((Headers(request.headers), request.get_data()))
        status = 503 if len(self.received) <= self.failures else 202
        return Response(status=status)(environ, start_response)

    def wait_for(self, count, timeout=5):
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.received

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
