"""Shared kit of the sandbox simulators: JSON answers, fault injection, routing, demo seed data.

The simulators are plain Werkzeug WSGI apps with in-memory state, so that they start in milliseconds,
need no Django, and serve over real sockets (see ``connectors.simulators``).
"""

import json
import random
import threading
import time

import requests
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from connectors.signatures import sign


def json_response(data, status=200, headers=None, content_type="application/json"):
    return Response(json.dumps(data), status=status, headers=headers, content_type=content_type)


def read_json(request):
    """The request's JSON body, or None when it is missing or not JSON."""
    try:
        return json.loads(request.get_data(cache=False) or b"null")
    except ValueError:
        return None


PUSH_RETRIES = 5
PUSH_BACKOFF_SECONDS = 0.2  # doubled after each failed attempt
PUSH_TIMEOUT_SECONDS = 5


def push(url, secret, webhook_id, payload: bytes):
    """Post one event the way store add-ons, shop modules and Domino agents do, in the background:
    Standard Webhooks-signed when there is a secret, retried on network errors and 5xx."""
    threading.Thread(target=_deliver, args=(url, secret, webhook_id, payload), daemon=True).start()


def _deliver(url, secret, webhook_id, payload):
    for attempt in range(PUSH_RETRIES + 1):
        if attempt:
            time.sleep(PUSH_BACKOFF_SECONDS * 2 ** (attempt - 1))
        headers = {"Content-Type": "application/json"}
        if secret:  # signed again on each attempt: the timestamp is the attempt's
            headers.update(sign(secret, webhook_id, payload))
        try:
            response = requests.post(url, data=payload, headers=headers, timeout=PUSH_TIMEOUT_SECONDS)
        except requests.RequestException:
            continue
        if response.status_code < 500:
            return


class Faults:
    """Fault injection settings of one simulated system, changed at run time over /_control/faults."""

    DEFAULTS = {
        "latency_ms": 0,  # added to every answer
        "error_rate": 0.0,  # share of requests answered 503
        "rate_limit_rate": 0.0,  # share answered 429 with Retry-After
        "retry_after": 1,  # seconds, sent in Retry-After
        "timeout_rate": 0.0,  # share held timeout_seconds before being answered
        "timeout_seconds": 30.0,
        "down": False,  # every request answered 503
        "fail_next": 0,  # the next N requests fail with fail_status (deterministic, for tests)
        "fail_status": 503,
        "expire_tokens": False,  # read and cleared by systems with tokens: all tokens expire once
    }
    RATES = {"error_rate", "rate_limit_rate", "timeout_rate"}

    def __init__(self, seed=None):
        self._lock = threading.Lock()
        # Set by reset() so that requests held by timeout_rate are released at once.
        self._wake = threading.Event()
        self.rng = random.Random(seed)
        self.__dict__.update(self.DEFAULTS)

    def as_dict(self):
        return {name: getattr(self, name) for name in self.DEFAULTS}

    def update(self, settings):
        """Merge settings (a dict, "seed" reseeds the random source); raises ValueError when invalid."""
        if not isinstance(settings, dict):
            raise ValueError("the body must be a JSON object of fault settings")
        unknown = sorted(set(settings) - set(self.DEFAULTS) - {"seed"})
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(self.DEFAULTS)}")
        clean = {name: self._check(name, value) for name, value in settings.items() if name != "seed"}
        with self._lock:
            if "seed" in settings:
                self.rng.seed(settings["seed"])
            self.__dict__.update(clean)
            self._wake.clear()

    def _check(self, name, value):
        default = self.DEFAULTS[name]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be true or false")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{name} must be a number >= 0")
        if name in self.RATES and value > 1:
            raise ValueError(f"{name} is a share of requests, between 0 and 1")
        if name == "fail_status" and not 400 <= value <= 599:
            raise ValueError("fail_status must be an HTTP error status, 400 to 599")
        return type(default)(value)

    def reset(self):
        with self._lock:
            self.__dict__.update(self.DEFAULTS)
            self._wake.set()

    def take_expire_tokens(self):
        """True once after expire_tokens was set: the caller then drops all its tokens."""
        with self._lock:
            expire, self.expire_tokens = self.expire_tokens, False
        return expire

    def apply(self, request):
        """A Response to send instead of the real answer, or None to go on (maybe after a delay)."""
        with self._lock:
            latency = self.latency_ms / 1000
            hold = 0
            if self.down:
                answer = Response("Service Unavailable", 503, content_type="text/plain")
            elif self.fail_next > 0:
                self.fail_next -= 1
                retry = {"Retry-After": str(int(self.retry_after))} if self.fail_status == 429 else None
                answer = self._error(self.fail_status, retry)
            elif self._roll(self.rate_limit_rate):
                answer = self._error(429, {"Retry-After": str(int(self.retry_after))})
            elif self._roll(self.error_rate):
                answer = self._error(503)
            else:
                answer = None
                hold = self.timeout_seconds if self._roll(self.timeout_rate) else 0
        if latency:
            time.sleep(latency)
        if hold:
            # The request is then answered normally: the write happens although the client gave up.
            self._wake.wait(hold)
        return answer

    def _roll(self, rate):
        return rate > 0 and self.rng.random() < rate

    @staticmethod
    def _error(status, headers=None):
        body = {"error": HTTP_STATUS_CODES.get(status, "Error"), "detail": "injected by the simulator"}
        return json_response(body, status, headers)


class SimulatorApp:
    """Base of a simulated system: werkzeug routing plus faults and the /_control endpoints.

    Subclasses list their routes in ``rules()``; a rule's endpoint names the method ``on_<endpoint>``.
    Paths under ``/_control/`` and ``/_sim/`` are simulator plumbing and never see faults.
    """

    def __init__(self, fault_seed=None):
        self.lock = threading.Lock()
        self.faults = Faults(fault_seed)
        url_map = Map([
            *self.rules(),
            Rule("/_control/faults", endpoint="control_faults", methods=["GET", "POST"]),
            Rule("/_control/reset", endpoint="control_reset", methods=["POST"]),
        ], merge_slashes=False)
        # Bound once: an API answers 404 rather than redirecting, so the host name never matters.
        self.urls = url_map.bind("localhost")

    def rules(self):
        return []

    def error_response(self, status, message):
        """The system's own error body for routing errors; overridden per system."""
        return json_response({"error": message}, status)

    def before_route(self, request):
        """Runs after the faults, before routing, on every non-plumbing request: a Response stops it."""
        return None

    def dispatch(self, request):
        if not request.path.startswith(("/_control/", "/_sim/")):
            stop = self.faults.apply(request) or self.before_route(request)
            if stop is not None:
                return stop
        try:
            endpoint, args = self.urls.match(request.path, request.method)
        except NotFound:
            return self.error_response(404, f"No route for {request.path}")
        except MethodNotAllowed:
            return self.error_response(405, f"Method {request.method} not allowed on {request.path}")
        return getattr(self, "on_" + endpoint)(request, **args)

    # Where the system's add-on / module / agent pushes its events (set over /_sim/...).
    webhook_url = None
    webhook_secret = None

    def set_push_target(self, request):
        body = read_json(request)
        if not isinstance(body, dict) or not set(body) <= {"webhook_url", "webhook_secret"}:
            return json_response({"error": "the body takes webhook_url and webhook_secret"}, 400)
        with self.lock:
            self.webhook_url = body.get("webhook_url", self.webhook_url)
            self.webhook_secret = body.get("webhook_secret", self.webhook_secret)
            return json_response({"webhook_url": self.webhook_url, "webhook_secret_set": bool(self.webhook_secret)})

    def on_control_faults(self, request):
        if request.method == "POST":
            try:
                self.faults.update(read_json(request))
            except ValueError as exc:
                return json_response({"error": str(exc)}, 400)
        return json_response(self.faults.as_dict())

    def on_control_reset(self, request):
        self.faults.reset()
        return json_response(self.faults.as_dict())

    def __call__(self, environ, start_response):
        return self.dispatch(Request(environ))(environ, start_response)


# Demo seed data shared by the simulators, so that the sandboxes describe one business:
# the store's SKUs are the ERP's item numbers, and some shoppers are already ERP customers.

_ADJECTIVES = ["Classic", "Compact", "Deluxe", "Rugged", "Slim", "Heavy", "Mini", "Smart", "Eco", "Pro"]
_MATERIALS = ["Steel", "Oak", "Brass", "Nylon", "Glass", "Copper", "Bamboo", "Cotton", "Rubber", "Stone"]
_NOUNS = ["Bracket", "Widget", "Lamp", "Hinge", "Valve", "Kettle", "Clamp", "Basket", "Pulley", "Tray"]
_FIRST = ["Anna", "Ben", "Clara", "David", "Emma", "Felix", "Grace", "Henry", "Iris", "Jack",
          "Kate", "Liam", "Mia", "Noah", "Olga", "Paul", "Rosa", "Sam", "Tina", "Victor"]
_LAST = ["Adams", "Baker", "Carter", "Dixon", "Evans", "Foster", "Green", "Hughes", "Irwin", "Jones",
         "King", "Lewis", "Moore", "Nash", "Owen", "Price", "Reed", "Stone", "Turner", "Walsh"]
_CITIES = [("Springfield", "IL", "62701"), ("Portland", "OR", "97201"), ("Austin", "TX", "73301"),
           ("Denver", "CO", "80201"), ("Boston", "MA", "02108"), ("Madison", "WI", "53703")]


def demo_product(n):
    """Catalogue entry n (1..1000): sku (= M3 ITNO), name (fits M3's 30 characters), price, weight, stock."""
    name = f"{_ADJECTIVES[n % 10]} {_MATERIALS[n // 10 % 10]} {_NOUNS[n // 100 % 10]}"
    return {
        "sku": f"SKU-{n:04d}",
        "name": name,
        "price": round(4.99 + n * 7919 % 2000 / 10, 2),
        "weight": round(0.1 + n * 31 % 50 / 10, 2),
        "stock": n * 37 % 250,
    }


def demo_person(n):
    """Person n: the X-Cart profiles are persons 1..300; the M3 customers share persons 1..50."""
    first, last = _FIRST[n % 20], _LAST[n // 20 % 20]
    city, state, zipcode = _CITIES[n % len(_CITIES)]
    return {
        "firstname": first,
        "lastname": last,
        "email": f"{first}.{last}{n}@example.com".lower(),
        "street": f"{n * 7 % 900 + 1} {_LAST[n % 20]} Street",
        "city": city,
        "state": state,
        "zipcode": zipcode,
        "country_code": "US",
        "phone": f"+1-555-{n:04d}",
    }
