"""HCL Domino: the Notes conventions, the simulator, and the connector over real HTTP, for both APIs
(DAS with HTTP Basic, the Domino REST API with a JWT bearer). No database: connections are unsaved."""

import json
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from connectors.base import ConnectorError
from connectors.domino import notes
from connectors.domino.connector import DominoConnector, tokens
from connectors.domino.simulator import (
    DEMO_DATABASE,
    DEMO_PASSWORD,
    DEMO_SCOPE,
    DEMO_USER,
    NOTES_USER,
    DominoSimulator,
)
from connectors.models import Connection
from connectors.signatures import new_secret, verify
from connectors.simulators import SimulatorServer
from tests.receiver import Receiver

FIXTURES = Path(__file__).parents[1] / "connectors/domino/fixtures"
AUTH_KINDS = ("basic", "domino_jwt")


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def server():
    server = SimulatorServer(port=0, domino=DominoSimulator()).start()
    yield server
    server.domino.faults.reset()  # releases requests held by timeout_rate
    server.stop()


def make_connector(server, auth_kind, *, username=DEMO_USER, password=DEMO_PASSWORD, base_url=None, **settings):
    connection = Connection(
        pk=1, name="Domino", slug="domino", kind="domino", auth_kind=auth_kind,
        base_url=base_url or server.url + "/domino",
        settings={"database": DEMO_DATABASE, "scope": DEMO_SCOPE, **settings},
    )
    connection.set_secret("username", username)
    connection.set_secret("password", password)
    return DominoConnector(connection)


@pytest.fixture(params=AUTH_KINDS)
def domino(request, server):
    return make_connector(server, request.param)


def set_faults(server, **settings):
    response = requests.post(server.url + "/domino/_control/faults", json=settings, timeout=5)
    assert response.status_code == 200, response.text


def notes_user_edits(server, unid, **items):
    response = requests.post(f"{server.url}/domino/_sim/documents/{unid}", json=items, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def seeded(server, form, key_item, key):
    return next(d for d in server.domino.documents.values() if d.form == form and d.item(key_item) == key)


def das(server, path, method="GET", **kwargs):
    url = f"{server.url}/domino/{DEMO_DATABASE}/api/data{path}"
    return requests.request(method, url, auth=(DEMO_USER, DEMO_PASSWORD), timeout=5, **kwargs)


def rest_token(server):
    response = requests.post(server.url + "/domino/api/v1/auth", json={"username": DEMO_USER, "password": DEMO_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["bearer"]


def rest(server, path, token, method="GET", params=None, **kwargs):
    return requests.request(method, f"{server.url}/domino/api/v1{path}", headers={"Authorization": f"Bearer {token}"},
                            params={"dataSource": DEMO_SCOPE, **(params or {})}, timeout=5, **kwargs)


# Notes conventions


def test_names():
    assert notes.common_name("CN=Jane Doe/OU=Sales/O=Acme") == "Jane Doe"
    assert notes.common_name("Jane Doe/Acme") == "Jane Doe"
    assert notes.common_name("Jane Doe") == "Jane Doe"
    assert notes.abbreviate("CN=Zoë Müller/OU=Vertrieb/O=Acme/C=DE") == "Zoë Müller/Vertrieb/Acme/DE"
    assert notes.abbreviate("cn=José Núñez/o=Acme") == "José Núñez/Acme"
    assert notes.canonicalize("Jane Doe", "Acme") == "CN=Jane Doe/O=Acme"
    assert notes.canonicalize("Zoë Müller", "Acme", ("Vertrieb",), "DE") == "CN=Zoë Müller/OU=Vertrieb/O=Acme/C=DE"
    assert notes.common_name(notes.canonicalize("王小明", "Acme")) == "王小明"
    for bad in ("Jane/Doe", "CN=Jane", " "):
        with pytest.raises(ValueError):
            notes.canonicalize(bad, "Acme")


def test_date_times():
    utc = timezone.utc
    expected = datetime(2026, 11, 20, 14, 15, 2, tzinfo=utc)
    for value in ("2026-11-20T14:15:02Z", "2026-11-20T15:15:02+01:00", "2026-11-20T19:45:02+05:30",
                  "2026-11-20T14:15:02", {"type": "datetime", "data": "2026-11-20T14:15:02Z"},
                  "11/20/2026 09:15:02 AM EST", "11/20/2026 03:15:02 PM CET", "11/20/2026 15:15:02 ZE1",
                  "11/20/2026 09:15:02 ZW5", datetime(2026, 11, 20, 14, 15, 2)):
        parsed = notes.parse_datetime(value)
        assert parsed == expected and parsed.tzinfo is not None, value
    assert notes.parse_datetime("2026-11-20") == datetime(2026, 11, 20, tzinfo=utc)
    summer = notes.parse_datetime("07/04/2026 10:00:00 AM EDT")
    assert notes.format_datetime(summer) == "2026-07-04T14:00:00Z"
    assert notes.format_datetime(datetime(2026, 11, 20, 15, 15, 2, 999, tzinfo=timezone(timedelta(hours=1)))) \
        == "2026-11-20T14:15:02Z"
    assert notes.datetime_item(expected) == {"type": "datetime", "data": "2026-11-20T14:15:02Z"}
    with pytest.raises(ValueError, match="naive"):
        notes.format_datetime(datetime(2026, 11, 20))
    for bad in ("yesterday", "11/20/2026 09:15:02 AM XYZ", "", None, 42):
        with pytest.raises(ValueError):
            notes.parse_datetime(bad)


def test_rich_text():
    product = fixture("product__document.json")
    description = notes.read_richtext(product["Description"])
    assert description.text == "The Crème Brass Kettle, one of our best sellers.\nWeight: 1.2 kg"  # quoted-printable undone
    assert "<b>Crème Brass Kettle</b>" in description.html

    html_only = {"type": "multipart", "content": [
        {"contentType": "text/html; charset=UTF-8",
         "data": "<html><body><p>Just <b>sales</b>.</p><script>track()</script>"
                 "<ul><li>One</li><li>Two</li></ul></body></html>"},
    ]}
    assert notes.read_richtext(html_only).text == "Just sales.\nOne\nTwo"
    assert notes.read_richtext(notes.richtext_item("Just <b>sales</b>.")) == ("Just <b>sales</b>.", "Just sales.")
    assert notes.read_richtext({"type": "text/html", "content": "<p>a &amp; b</p>"}).text == "a & b"
    plain = notes.read_richtext({"type": "text/plain", "content": "x < y"})
    assert plain == ("<p>x &lt; y</p>", "x < y")
    assert notes.read_richtext("just text").text == "just text"
    assert notes.read_richtext(None) == ("", "")
    assert notes.richtext_item("<p>x</p>") == {"type": "richtext", "contentType": "text/html", "data": "<p>x</p>"}
    with pytest.raises(ValueError):
        notes.read_richtext({"type": "multipart", "content": []})


def test_multi_value_items_and_dql_strings():
    assert notes.as_list("retail") == ["retail"]
    assert notes.as_list(["retail", "newsletter"]) == ["retail", "newsletter"]
    assert notes.as_list(None) == notes.as_list("") == []
    assert notes.first(["a", "b"]) == "a" and notes.first("a") == "a" and notes.first([]) is None
    assert notes.dql_string("O'Malley's") == "'O''Malley''s'"


# The simulator over HTTP


def test_das_views_page_with_start_count_and_page_ps(server):
    views = das(server, "/collections").json()
    assert [view["@title"] for view in views] == ["Orders", "Products", "Customers"]
    first = das(server, "/collections/name/Orders")
    assert len(first.json()) == 10 and first.headers["Content-Range"] == "items 0-9/30"
    numbers = []
    for start in range(0, 40, 7):
        numbers += [entry["OrderNumber"] for entry in das(server, "/collections/name/Orders",
                                                            params={"start": start, "count": 7}).json()]
    assert numbers == sorted(f"DO-{1000 + n}" for n in range(1, 31))
    paged = [entry["OrderNumber"] for page in range(3)
             for entry in das(server, "/collections/name/Orders", params={"page": page, "ps": 12}).json()]
    assert paged == numbers
    [hit] = das(server, "/collections/name/Customers", params={"keys": "ANNA.CARTER40@EXAMPLE.COM",
                                                                "keysexactmatch": "true"}).json()
    assert hit["Email"] == "anna.carter40@example.com" and len(hit["@unid"]) == 32
    assert das(server, "/collections/name/Nope").status_code == 404


def test_rest_lists_page_with_start_count(server):
    token = rest_token(server)
    skus = []
    for start in range(0, 250, 60):
        skus += [entry["SKU"] for entry in rest(server, "/lists/Products", token,
                                                params={"start": start, "count": 60}).json()]
    assert skus == [f"SKU-{n:04d}" for n in range(1, 201)]
    assert rest(server, "/lists/Products", "not-a-token").json() == {
        "status": 401, "message": "Invalid or expired token", "details": "Authenticate again at /api/v1/auth"}
    missing_scope = requests.get(server.url + "/domino/api/v1/lists", headers={"Authorization": f"Bearer {token}"})
    assert missing_scope.status_code == 400 and missing_scope.json()["message"] == "Missing dataSource parameter"


def test_das_document_conditional_requests_and_formats(server):
    order = seeded(server, "Order Record", "OrderNumber", "DO-1005")
    response = das(server, f"/documents/unid/{order.unid}")
    body, last_modified = response.json(), response.headers["Last-Modified"]
    assert body["@unid"] == order.unid and body["@form"] == body["Form"] == "Order Record"
    assert {"@href", "@noteid", "@created", "@modified", "@authors"} <= set(body)
    assert body["OrderDate"] == "2024-02-06T09:15:00Z" and len(body["OrderLines"]) == 3
    assert das(server, f"/documents/unid/{order.unid}", headers={"If-Modified-Since": last_modified}).status_code == 304
    strong = das(server, f"/documents/unid/{order.unid}", params={"strongtype": "true"}).json()
    assert strong["OrderDate"] == {"type": "datetime", "data": "2024-02-06T09:15:00Z"}

    notes_user_edits(server, order.unid, Status="Shipped")
    stale = das(server, f"/documents/unid/{order.unid}", "PATCH", json={"Status": "New"},
                headers={"If-Unmodified-Since": last_modified})
    assert stale.status_code == 412 and stale.json()["code"] == 412
    assert das(server, f"/documents/unid/{order.unid}").json()["Status"] == "Shipped"

    product = seeded(server, "Product", "SKU", "SKU-0001")
    single = das(server, f"/documents/unid/{product.unid}", params={"multipart": "false"}).json()
    assert single["Description"]["type"] == "richtext" and single["Description"]["data"].startswith("<p>The <b>")


def test_rest_query_subset_of_dql(server):
    token = rest_token(server)
    query = {"query": "form = 'Customer' and Email = 'ANNA.CARTER40@example.com'", "mode": "dql"}
    [customer] = rest(server, "/query", token, "POST", params={"action": "execute"}, json=query).json()
    assert customer["Email"] == "anna.carter40@example.com" and customer["@meta"]["revision"]
    numeric = {"query": "form = 'Product' and Price > 200"}
    assert all(p["Price"] > 200 for p in rest(server, "/query", token, "POST", params={"action": "execute"},
                                                json=numeric).json())
    bad = rest(server, "/query", token, "POST", params={"action": "execute"}, json={"query": "Status = 'New' or 1 = 1"})
    assert bad.status_code == 400 and bad.json()["message"] == "DQL syntax error"


def test_rest_document_rich_text_as_and_revisions(server):
    token = rest_token(server)
    product = seeded(server, "Product", "SKU", "SKU-0001")
    shown = {choice: rest(server, f"/document/{product.unid}", token, params={"richTextAs": choice}).json()
             for choice in ("html", "markdown", "plain")}
    assert shown["html"]["Description"]["type"] == "text/html"
    assert "<b>Compact Steel Bracket</b>" in shown["html"]["Description"]["content"]
    assert shown["markdown"]["Description"]["content"] == \
        "The **Compact Steel Bracket**, one of our best sellers.\n\n- Weight: 3.2 kg\n- Ships in 2 days"
    assert shown["plain"]["Description"]["content"] == \
        "The Compact Steel Bracket, one of our best sellers.\nWeight: 3.2 kg\nShips in 2 days"

    revision = shown["html"]["@meta"]["revision"]
    patched = rest(server, f"/document/{product.unid}", token, "PATCH", params={"revision": revision},
                   json={"Weight": None, "Stock": 5})
    assert patched.status_code == 200 and "Weight" not in patched.json() and patched.json()["Stock"] == 5
    assert patched.json()["@meta"]["revision"] != revision
    stale = rest(server, f"/document/{product.unid}", token, "PATCH", params={"revision": revision}, json={"Stock": 6})
    assert stale.status_code == 409 and stale.json()["status"] == 409


# The connector: connection test and authentication


def test_connection_ok(domino):
    message = domino.test_connection()
    assert DEMO_USER in message and (DEMO_DATABASE in message or DEMO_SCOPE in message)


@pytest.mark.parametrize("auth_kind, domino_words", [
    ("basic", "You are not authorized to access this resource"),
    ("domino_jwt", "Invalid credentials or account locked"),
])
def test_bad_password_is_permanent_in_dominos_words(server, auth_kind, domino_words):
    connector = make_connector(server, auth_kind, password="wrong")
    with pytest.raises(ConnectorError) as failed:
        connector.test_connection()
    assert failed.value.permanent and failed.value.status == 401
    assert "Domino refused the user name or password" in failed.value.message
    assert domino_words in failed.value.message


def test_unknown_database_or_scope(server):
    with pytest.raises(ConnectorError) as failed:
        make_connector(server, "basic", database="nope.nsf").test_connection()
    assert failed.value.permanent and "database nope.nsf not found" in failed.value.message
    assert "Cannot open database nope.nsf" in failed.value.message
    with pytest.raises(ConnectorError) as failed:
        make_connector(server, "domino_jwt", scope="nope").test_connection()
    assert failed.value.permanent and "scope nope" in failed.value.message and "'nope'" in failed.value.message


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("auth_kind", AUTH_KINDS)
def test_unreachable_server_is_transient(server, auth_kind):
    connector = make_connector(server, auth_kind, base_url=f"http://127.0.0.1:{free_port()}/domino")
    with pytest.raises(ConnectorError) as failed:
        connector.test_connection()
    assert not failed.value.permanent and "unreachable" in failed.value.message


def test_expired_token_is_renewed(server):
    connector = make_connector(server, "domino_jwt")
    order = seeded(server, "Order Record", "OrderNumber", "DO-1001")
    connector.fetch("order", order.unid)
    first_token = tokens.get(connector.api._token_key())
    set_faults(server, expire_tokens=True)
    assert connector.fetch("order", order.unid)["OrderNumber"] == "DO-1001"
    renewed = tokens.get(connector.api._token_key())
    assert renewed and renewed != first_token and list(server.domino.tokens) == [renewed]
    assert [entry["call"] for entry in connector.http.exchanges].count("Domino REST auth") == 2


# The connector: polling


def drain(connector, entity, cursor=None, limit=100):
    """Poll until no page is left; returns the records and the last cursor."""
    records, pages = [], 0
    while True:
        page = connector.poll(entity, cursor, limit=limit)
        records += page.records
        cursor, pages = page.cursor, pages + 1
        if not page.more:
            return records, cursor, pages


def test_poll_pages_reach_every_product_once(domino):
    records, cursor, pages = drain(domino, "product", limit=40)
    assert pages >= 5 and cursor
    skus = [record["SKU"] for record in records]
    assert sorted(skus) == [f"SKU-{n:04d}" for n in range(1, 201)] and len(set(skus)) == 200
    ids = [domino.record_id("product", record) for record in records]
    assert len(set(ids)) == 200 and all(len(unid) == 32 for unid in ids)
    versions = [domino.record_version("product", record) for record in records]
    assert all(versions)
    times = [record.get("@modified") or record["@meta"]["lastmodified"] for record in records]
    assert times == sorted(times)  # oldest first


def test_poll_cursor_returns_only_what_changed(domino, server):
    _, cursor, _ = drain(domino, "order")
    assert domino.poll("order", cursor).records == []
    changed = [seeded(server, "Order Record", "OrderNumber", number) for number in ("DO-1003", "DO-1017")]
    for order in changed:
        notes_user_edits(server, order.unid, Status="Shipped", TrackingNumber=f"1Z-{order.unid[:6]}")
    notes_user_edits(server, seeded(server, "Product", "SKU", "SKU-0007").unid, Price=1.5)  # another form

    page = domino.poll("order", cursor)
    assert sorted(domino.record_id("order", record) for record in page.records) == sorted(o.unid for o in changed)
    assert all(record["Status"] == "Shipped" for record in page.records) and not page.more
    assert domino.poll("order", page.cursor).records == []


# The connector: upserts, conflicts, errors


def test_upsert_creates_then_updates_by_key_without_duplicates(domino, server):
    payload = {"Email": "zoe.mueller@example.org", "FirstName": "Zoë", "LastName": "Müller",
               "Tags": ["retail", "newsletter"]}
    created = domino.perform("customer.upsert", payload)
    assert "created" in created.note and len(created.target_id) == 32
    assert domino.find("customer", "Zoe.Mueller@Example.org") == created.target_id

    updated = domino.perform("customer.upsert", {"Email": "zoe.mueller@example.org", "Phone": "+49 30 1234567"})
    assert updated.target_id == created.target_id and "found by Email" in updated.note
    linked = domino.perform("customer.upsert", {"City": "Berlin"}, target_id=created.target_id)
    assert linked.target_id == created.target_id

    same_email = [d for d in server.domino.documents.values() if d.item("Email") == "zoe.mueller@example.org"]
    assert len(same_email) == 1
    record = domino.fetch("customer", created.target_id)
    assert (record["FirstName"], record["Phone"], record["City"]) == ("Zoë", "+49 30 1234567", "Berlin")
    assert record["Tags"] == ["retail", "newsletter"]

    with pytest.raises(ConnectorError) as failed:
        domino.perform("customer.upsert", {"FirstName": "No key"})
    assert failed.value.permanent and "Email" in failed.value.message


def test_conflicts_are_resolved_by_refetch_and_reapply(domino, server):
    order = seeded(server, "Order Record", "OrderNumber", "DO-1002")
    set_faults(server, conflict_next=2)
    result = domino.perform("order.upsert", {"OrderNumber": "DO-1002", "Status": "Picked", "TrackingNumber": "1Z-NEW"})
    assert result.target_id == order.unid
    assert "2 edit conflict(s)" in result.note
    record = domino.fetch("order", order.unid)
    assert record["LastEditedBy"] == NOTES_USER  # the other user's save is kept
    assert (record["Status"], record["TrackingNumber"]) == ("Picked", "1Z-NEW")  # and ours applied
    assert server.domino.faults.conflict_next == 0


def test_conflicts_without_end_are_a_transient_error(domino, server):
    set_faults(server, conflict_next=4)
    with pytest.raises(ConnectorError) as failed:
        domino.perform("order.upsert", {"OrderNumber": "DO-1002", "Status": "Picked"})
    assert not failed.value.permanent and "conflict" in failed.value.message
    assert server.domino.faults.conflict_next == 0


def test_error_classes(domino, server):
    with pytest.raises(ConnectorError) as missing:
        domino.fetch("order", "0" * 32)
    assert missing.value.permanent and missing.value.status == 404 and "not found" in missing.value.message

    set_faults(server, fail_next=1, fail_status=503)
    with pytest.raises(ConnectorError) as unavailable:
        domino.find("product", "SKU-0001")
    assert not unavailable.value.permanent and unavailable.value.status == 503

    set_faults(server, rate_limit_rate=1.0, retry_after=7)
    with pytest.raises(ConnectorError) as limited:
        domino.find("product", "SKU-0001")
    assert not limited.value.permanent and limited.value.status == 429 and limited.value.retry_after == 7
    set_faults(server, rate_limit_rate=0.0)

    set_faults(server, fail_next=1, fail_status=403)
    with pytest.raises(ConnectorError) as forbidden:
        domino.find("product", "SKU-0001")
    assert forbidden.value.permanent and "no access" in forbidden.value.message
    assert "injected by the simulator" in forbidden.value.message  # tolerant of an unknown body shape

    order = seeded(server, "Order Record", "OrderNumber", "DO-1001")
    with pytest.raises(ConnectorError) as wrong_form:
        domino.fetch("product", order.unid)
    assert wrong_form.value.permanent and "'Order Record'" in wrong_form.value.message


def test_timeout_is_transient(domino, server, settings):
    settings.HUB_HTTP_TIMEOUT = (1, 1)
    set_faults(server, timeout_rate=1.0, timeout_seconds=5)
    with pytest.raises(ConnectorError) as failed:
        domino.test_connection()
    assert not failed.value.permanent and "did not answer in time" in failed.value.message


# The connector: rich text and pushes


def test_rich_text_written_and_read_back(domino):
    html = "<p>Café <b>crème</b> set</p><p>Serves 4 &amp; more</p>"
    result = domino.perform("product.upsert", {"SKU": "SKU-9001", "Name": "Café set",
                                               "Description": notes.richtext_item(html)})
    record = domino.fetch("product", result.target_id)
    description = notes.read_richtext(record["Description"])
    assert description.html == html
    assert description.text == "Café crème set\nServes 4 & more"


def test_parse_push_of_the_agent_fixture(server):
    connector = make_connector(server, "basic")
    event = connector.parse_push(fixture("agent__updated.json"), {})
    assert (event.entity, event.event, event.topic) == ("order", "updated", "order.updated")
    assert event.source_id == "4E1C2A7B9D0F4C3BA1E2D3C4B5A69788"
    assert event.record["Status"] == "Shipped" and connector.record_id("order", event.record) == event.source_id

    thin = connector.parse_push({"event": "created", "form": "customer", "unid": "7f00aa11bb22cc33dd44ee55ff667788"}, {})
    assert (thin.entity, thin.source_id, thin.record) == ("customer", "7F00AA11BB22CC33DD44EE55FF667788", None)
    for bad, words in [([], "JSON object"), ({"event": "saved", "form": "Product", "unid": "A" * 32}, "event"),
                       ({"event": "updated", "form": "Memo", "unid": "A" * 32}, "Memo"),
                       ({"event": "updated", "form": "Product", "unid": "123"}, "unid"),
                       ({"event": "updated", "form": "Product", "unid": "A" * 32, "document": "x"}, "document")]:
        with pytest.raises(ValueError, match=words):
            connector.parse_push(bad, {})


def test_fixtures_read_as_the_connector_expects(server):
    connector = make_connector(server, "basic")
    order, customer = fixture("order_record__document.json"), fixture("customer__document.json")
    assert connector.record_id("order", order) == order["@unid"]
    assert connector.record_version("order", order) == "2026-11-20T14:15:02Z"
    assert notes.common_name(order["CustomerName"]) == f"{customer['FirstName']} {customer['LastName']}"
    assert notes.as_list(customer["Tags"]) == ["retail"]
    assert notes.parse_datetime(order["OrderDate"]) == datetime(2026, 11, 20, 14, 0, tzinfo=timezone.utc)


def test_agent_push_arrives_signed(server):
    receiver, secret = Receiver(), new_secret()
    requests.post(server.url + "/domino/_sim/agent", json={"webhook_url": receiver.url, "webhook_secret": secret})
    order = seeded(server, "Order Record", "OrderNumber", "DO-1004")
    try:
        notes_user_edits(server, order.unid, Status="Shipped", TrackingNumber="1Z999AA10123456784")
        [(headers, body)] = receiver.wait_for(1)
    finally:
        receiver.stop()
    assert verify(secret, headers, body) == f"domino-{order.unid}-{order.sequence}"
    event = make_connector(server, "basic").parse_push(json.loads(body), headers)
    assert (event.entity, event.event, event.source_id) == ("order", "updated", order.unid)
    assert event.record["TrackingNumber"] == "1Z999AA10123456784" and event.record["@authors"][-1] == NOTES_USER
