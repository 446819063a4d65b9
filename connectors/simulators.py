"""All sandbox simulators in one WSGI app, and a small threaded server for tests, demo and benchmarks.

    /xcart/...    X-Cart 5.5 REST API and the store add-on (connectors.xcart.simulator)
    /ionapi/...   ION API Gateway + M3 MI REST (connectors.infor_m3.simulator)

Run it alone with ``python -m connectors.simulators --port 8100``.
"""

import argparse
import socket
import threading

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import WSGIRequestHandler, make_server

from connectors.infor_m3.simulator import M3Simulator
from connectors.simkit import json_response
from connectors.xcart.simulator import XCartSimulator


def _not_found(environ, start_response):
    body = {"error": "Not Found", "detail": "The simulators are mounted under /xcart and /ionapi"}
    return json_response(body, 404)(environ, start_response)


def build_app(xcart=None, m3=None):
    return DispatcherMiddleware(_not_found, {
        "/xcart": xcart or XCartSimulator(),
        "/ionapi": m3 or M3Simulator(),
    })


class _FastHandler(WSGIRequestHandler):
    """Keep-alive without Nagle stalls, and no access log (a line per request is slow and noisy)."""

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; with Nagle on, the body waits for a delayed ACK (~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code="-", size="-"):
        pass


class SimulatorServer:
    """Serves the simulators on 127.0.0.1 in a daemon thread; port=0 picks a free port."""

    def __init__(self, port=0, xcart=None, m3=None, host="127.0.0.1"):
        self.xcart = xcart or XCartSimulator()
        self.m3 = m3 or M3Simulator()
        self.app = build_app(self.xcart, self.m3)
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_FastHandler)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self.xcart_url = self.url + "/xcart"
        self.ionapi_url = self.url + "/ionapi"
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name="simulators", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread:  # shutdown() waits for serve_forever, so only when it runs
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()


def main():
    parser = argparse.ArgumentParser(description="Serve the X-Cart and Infor M3 sandbox simulators.")
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    server = SimulatorServer(port=args.port)
    print(f"X-Cart: {server.xcart_url}  (X-Auth-Token: {server.xcart.api_key})")
    print(f"ION API: {server.ionapi_url}  (.ionapi: connectors.infor_m3.simulator.demo_ionapi)")
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
