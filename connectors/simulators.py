"""All sandbox simulators in one WSGI app, and the servers that serve it: a small threaded one for
tests and the demo, and a fast one for benchmarks and load.

    /xcart/...    X-Cart 5.5 REST API and the store add-on (connectors.xcart.simulator)
    /prestashop/  PrestaShop Webservice and a module pushing order events (connectors.prestashop.simulator)
    /ionapi/...   ION API Gateway + M3 MI REST (connectors.infor_m3.simulator)
    /domino/...   HCL Domino: Domino Access Services and the Domino REST API (connectors.domino.simulator)

Run it alone with ``python -m connectors.simulators --port 8100``; ``--server granian`` serves the same
app with Granian (Rust HTTP, Python handlers in a pool of threads of one process, so the simulators'
in-memory state stays whole): about 15x the requests/s of the threaded Werkzeug server, which tops out
near 1,000 requests/s and would be the bottleneck of any benchmark of the hub.
"""

import argparse
import socket
import threading

from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import WSGIRequestHandler, make_server

from connectors.domino.simulator import DominoSimulator
from connectors.infor_m3.simulator import M3Simulator
from connectors.prestashop.simulator import PrestaShopSimulator
from connectors.simkit import json_response
from connectors.xcart.simulator import XCartSimulator


def _not_found(environ, start_response):
    body = {"error": "Not Found", "detail": "The simulators are mounted under /xcart, /ionapi, ... (see connectors.simulators)"}
    return json_response(body, 404)(environ, start_response)


def default_systems():
    """Mount name -> a fresh simulator, for every system the sandbox has."""
    return {"xcart": XCartSimulator(), "prestashop": PrestaShopSimulator(), "ionapi": M3Simulator(),
            "domino": DominoSimulator()}


def build_app(systems):
    return DispatcherMiddleware(_not_found, {f"/{name}": app for name, app in systems.items()})


def sandbox_app():
    """The WSGI app of fresh simulators: the factory a separate server process imports."""
    return build_app(default_systems())


def serve_granian(port: int, host: str = "127.0.0.1", threads: int = 64) -> None:
    """Serve fresh simulators with Granian in the foreground until stopped (SIGTERM / Ctrl-C).

    One worker process only: the simulators keep their state in memory. ``threads`` bounds the
    requests handled at once; a fault that holds requests (timeout_rate) holds a thread each.
    """
    from granian import Granian
    from granian.constants import Interfaces

    Granian("connectors.simulators:sandbox_app", factory=True, interface=Interfaces.WSGI, address=host, port=port,
            workers=1, blocking_threads=threads, log_access=False).serve()


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

    def __init__(self, port=0, host="127.0.0.1", **systems):
        """``systems`` replaces or adds simulators by mount name, e.g. ``ionapi=M3Simulator(token_ttl=5)``."""
        self.systems = {**default_systems(), **systems}
        self.app = build_app(self.systems)
        self._server = make_server(host, port, self.app, threaded=True, request_handler=_FastHandler)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = None

    def __getattr__(self, name):
        # server.xcart, server.prestashop, server.xcart_url...; server.m3 is the one mounted at /ionapi
        systems = self.__dict__.get("systems", {})
        key = "ionapi" if name == "m3" else name
        if key in systems:
            return systems[key]
        if name.endswith("_url") and name[:-4] in systems:
            return f"{self.url}/{name[:-4]}"
        raise AttributeError(name)

    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="simulators", daemon=True)
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
    parser = argparse.ArgumentParser(description="Serve the sandbox simulators (X-Cart, PrestaShop, M3, Domino).")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--server", choices=["werkzeug", "granian"], default="werkzeug",
                        help="granian: the fast server, for benchmarks and load tests")
    parser.add_argument("--threads", type=int, default=64, help="granian's handler threads")
    args = parser.parse_args()
    if args.server == "granian":
        serve_granian(args.port, threads=args.threads)
        return
    server = SimulatorServer(port=args.port)
    print(f"X-Cart: {server.xcart_url}  (X-Auth-Token: {server.xcart.api_key})")
    print(f"ION API: {server.ionapi_url}  (.ionapi: connectors.infor_m3.simulator.demo_ionapi)")
    try:
        server._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
