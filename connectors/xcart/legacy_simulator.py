"""The legacy REST API add-on of X-Cart 5.0 - 5.4, over the same store as the 5.5 simulator.

``{store}/admin.php?target=RESTAPI&_key={KEY}&_path={entity}[/{id}]``: a read/write and a read-only
key, the method from ``_method`` / ``X-HTTP-METHOD-Override`` / the real one, paging with
``_cnd[limit][0]`` (offset) and ``_cnd[limit][1]`` (count), creation-date ranges with
``_cnd[date][0]`` / ``_cnd[date][1]``. A bad key is 403 with an empty body; bad input is 400 with
the reason in the ``X-REST-Error`` header, as the add-on does.
"""

import json
import time

from werkzeug.wrappers import Response

DEMO_LEGACY_KEY = "demo-xcart-legacy-rw"
DEMO_LEGACY_READ_KEY = "demo-xcart-legacy-ro"
ENTITIES = {"order": "orders", "product": "products", "profile": "profiles"}


def _empty(status):
    return Response(b"", status=status)


def _rest_error(message):
    return Response(b"", status=400, headers={"X-REST-Error": message})


class LegacyRestApi:
    def __init__(self, store, key=DEMO_LEGACY_KEY, read_key=DEMO_LEGACY_READ_KEY):
        self.store, self.key, self.read_key = store, key, read_key

    def handle(self, request):
        args = request.args
        if args.get("target") != "RESTAPI":
            return _empty(404)
        method = (args.get("_method") or request.headers.get("X-HTTP-METHOD-Override") or request.method).upper()
        key = args.get("_key")
        if key not in (self.key, self.read_key) or (key == self.read_key and method != "GET"):
            return _empty(403)
        entity, _, record_id = args.get("_path", "").strip("/").partition("/")
        if entity not in ENTITIES:
            return _rest_error(f"Unknown path {args.get('_path', '')!r}")
        if method == "GET":
            return self._get(entity, record_id, args)
        if method == "PUT" and record_id:
            return self._put(entity, record_id, request)
        return _rest_error(f"Method {method} is not supported for {entity}")

    def _records(self, entity):
        return getattr(self.store, ENTITIES[entity])

    def _get(self, entity, record_id, args):
        with self.store.lock:
            if record_id:
                record = self._records(entity).get(_int(record_id))
                return _json(record) if record else _empty(404)
            found = list(self._records(entity).values())
            try:
                found = self._conditions(entity, found, args)
            except ValueError as exc:
                return _rest_error(str(exc))
            return _json(found)

    def _conditions(self, entity, records, args):
        if "_cnd[sku]" in args:
            records = [r for r in records if r.get("sku") == args["_cnd[sku]"]]
        if entity == "order" and ("_cnd[date][0]" in args or "_cnd[date][1]" in args):
            start, end = int(args.get("_cnd[date][0]", 0)), int(args.get("_cnd[date][1]", 2**31))
            records = [r for r in records if start <= r["date"] <= end]
        if "_cnd[orderBy][0]" in args:
            field, direction = args["_cnd[orderBy][0]"], args.get("_cnd[orderBy][1]", "asc").lower()
            if direction not in ("asc", "desc"):
                raise ValueError("Input data is incorrect")
            records.sort(key=lambda r: (r.get(field) is None, r.get(field)), reverse=direction == "desc")
        if "_cnd[limit][1]" in args:
            offset, count = int(args.get("_cnd[limit][0]", 0)), int(args["_cnd[limit][1]"])
            if offset < 0 or count < 0:
                raise ValueError("Input data is incorrect")
            records = records[offset:offset + count]
        return records

    def _put(self, entity, record_id, request):
        try:
            changes = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _rest_error("Input data is incorrect")
        with self.store.lock:
            record = self._records(entity).get(_int(record_id))
            if record is None:
                return _empty(404)
            if entity == "product" and set(changes) <= {"amount", "price", "enabled"}:
                record.update(changes)
            elif entity == "order" and set(changes) <= {"shippingStatus", "trackingNumbers"}:
                if "shippingStatus" in changes:
                    record["shippingStatus"] = {"id": record["shippingStatus"]["id"], **changes["shippingStatus"]}
                for tracking in changes.get("trackingNumbers", []):
                    if tracking not in record["trackingNumbers"]:
                        record["trackingNumbers"].append(tracking)
                record["lastRenewDate"] = int(time.time())
            else:
                return _rest_error("Input data is incorrect")
            return _json(record)


def _int(value):
    return int(value) if str(value).isdigit() else -1


def _json(data):
    return Response(json.dumps(data), content_type="application/json")
