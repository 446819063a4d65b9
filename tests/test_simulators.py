"""The X-Cart and M3 simulators over real HTTP. Plain pytest: no Django, no database."""

import json
import time

import pytest
import requests

from connectors.infor_m3.simulator import demo_ionapi
from connectors.signatures import new_secret, verify
from connectors.simulators import SimulatorServer
from connectors.xcart.simulator import DEMO_API_KEY
from tests.receiver import Receiver


@pytest.fixture(scope="module")
def sims():
    server = SimulatorServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def no_faults(sims):
    yield
    sims.xcart.faults.reset()
    sims.m3.faults.reset()


@pytest.fixture(scope="module")
def ionapi(sims):
    return demo_ionapi(sims.ionapi_url)


@pytest.fixture
def token(ionapi):
    return request_token(ionapi).json()["access_token"]


def xcart(sims, path, method="GET", key=DEMO_API_KEY, **kwargs):
    return requests.request(method, sims.xcart_url + path, headers={"X-Auth-Token": key}, timeout=5, **kwargs)


def place_order(sims, **body):
    response = requests.post(sims.xcart_url + "/_sim/orders", json=body, timeout=5)
    assert response.status_code == 201, response.text
    return response.json()


def request_token(ionapi, **overrides):
    form = {
        "grant_type": "password",
        "username": ionapi["saak"],
        "password": ionapi["sask"],
        "client_id": ionapi["ci"],
        "client_secret": ionapi["cs"],
        **overrides,
    }
    return requests.post(ionapi["pu"] + ionapi["ot"], data=form, timeout=5)


def mi(ionapi, token, call, **fields):
    url = f"{ionapi['iu']}/{ionapi['ti']}/M3/m3api-rest/v2/execute/{call}"
    return requests.get(url, params=fields, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def mi_records(response):
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nrOfFailedTransactions"] == 0, body
    return body["results"][0]["records"]


def mi_error(response):
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["nrOfSuccessfullTransactions"], body["nrOfFailedTransactions"]) == (0, 1)
    return body["results"][0]


def m3_order(ionapi, token, cuno, cuor, lines):
    orno = mi_records(mi(ionapi, token, "OIS100MI/AddBatchHead", CUNO=cuno, CUOR=cuor))[0]["ORNO"].strip()
    for itno, quantity in lines:
        mi_records(mi(ionapi, token, "OIS100MI/AddBatchLine", ORNO=orno, ITNO=itno, ORQT=quantity))
    return orno, mi_records(mi(ionapi, token, "OIS100MI/Confirm", ORNO=orno))[0]


# X-Cart


def test_xcart_refuses_a_missing_or_wrong_key(sims):
    for key in (None, "wrong"):
        response = xcart(sims, "/api/orders", key=key)
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/problem+json"
        assert response.json() == {
            "type": "https://tools.ietf.org/html/rfc2616#section-10",
            "title": "An error occurred",
            "status": 401,
            "detail": "Invalid or missing X-Auth-Token",
        }


def test_xcart_products_page_through_the_catalogue(sims):
    skus = []
    for page in range(1, 12):
        batch = xcart(sims, "/api/products", params={"page": page, "itemsPerPage": 100}).json()
        assert len(batch) == (100 if page <= 10 else 0)
        skus += [product["sku"] for product in batch]
    assert skus == [f"SKU-{n:04d}" for n in range(1, 1001)]
    assert len(xcart(sims, "/api/products").json()) == 30
    assert len(xcart(sims, "/api/products", params={"itemsPerPage": 500}).json()) == 100
    [product] = xcart(sims, "/api/products", params={"sku": "SKU-0042"}).json()
    assert xcart(sims, f"/api/products/{product['product_id']}").json() == product


def test_xcart_orders_filter_by_last_renew_date(sims):
    email = "cursor.test@example.com"
    placed = [
        place_order(sims, email=email, firstname="Cur", lastname="Sor", items=[{"sku": "SKU-0010", "amount": 1}],
                    date=1_600_000_000 + k * 100)
        for k in range(3)
    ]
    cursor = {"profile.login": email, "order[lastRenewDate]": "asc"}
    found = xcart(sims, "/api/orders", params={**cursor, "lastRenewDate[after]": 1_600_000_100}).json()
    assert [order["order_id"] for order in found] == [order["order_id"] for order in placed[1:]]
    iso = xcart(sims, "/api/orders", params={**cursor, "lastRenewDate[after]": "2020-09-13T12:28:20Z"}).json()
    assert iso == found
    newest_first = xcart(sims, "/api/orders", params={**cursor, "order[lastRenewDate]": "desc"}).json()
    assert [order["order_id"] for order in newest_first] == [order["order_id"] for order in reversed(placed)]

    # A shipping status change moves the order past the cursor.
    order_id = placed[0]["order_id"]
    changed = xcart(sims, f"/api/orders/{order_id}/shipping_status", "PUT", json={"code": "S"})
    assert changed.json() == {"id": 3, "code": "S"}
    after_now = xcart(sims, "/api/orders", params={**cursor, "lastRenewDate[after]": int(time.time()) - 5}).json()
    assert [order["order_id"] for order in after_now] == [order_id]
    assert xcart(sims, "/api/orders/999999").status_code == 404


def test_sim_order_is_pushed_signed_and_retried(sims):
    receiver = Receiver(failures=1)
    secret = new_secret()
    requests.post(sims.xcart_url + "/_sim/addon", json={"webhook_url": receiver.url, "webhook_secret": secret})
    try:
        product = xcart(sims, "/api/products/1").json()
        order = place_order(sims, email="New.Shopper@example.com", firstname="New", lastname="Shopper",
                            items=[{"sku": "SKU-0001", "amount": 2}, {"sku": "GIFT-WRAP", "amount": 1, "price": 2.5}])
        deliveries = receiver.wait_for(2)
    finally:
        requests.post(sims.xcart_url + "/_sim/addon", json={"webhook_url": None})
        receiver.stop()

    assert [item["total"] for item in order["items"]] == [round(2 * product["price"], 2), 2.5]
    assert order["profile"]["login"] == "new.shopper@example.com"
    assert order["total"] == round(sum(item["total"] for item in order["items"]), 2)
    assert xcart(sims, "/api/products/1").json()["amount"] == max(0, product["amount"] - 2)
    assert len(deliveries) == 2  # the first answer was 503, so the add-on retried
    for headers, body in deliveries:
        assert headers["Content-Type"] == "application/json"
        assert verify(secret, headers, body) == f"xcart-order-{order['order_id']}-created"
        event = json.loads(body)
        assert event["type"] == "order.created"
        assert event["data"] == order


def test_sim_order_refuses_a_bad_body(sims):
    response = requests.post(sims.xcart_url + "/_sim/orders", json={"email": "a@example.com", "items": []})
    assert response.status_code == 400
    assert response.json()["status"] == 400


# ION API Gateway and M3


def test_m3_token(ionapi):
    response = request_token(ionapi)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7200 and body["access_token"]

    assert request_token(ionapi, grant_type="client_credentials", username="", password="").status_code == 200
    bad_client = request_token(ionapi, client_secret="wrong")
    assert bad_client.status_code == 401 and bad_client.json()["error"] == "invalid_client"
    bad_user = request_token(ionapi, password="wrong")
    assert bad_user.status_code == 400 and bad_user.json()["error"] == "invalid_grant"
    assert request_token(ionapi, grant_type="implicit").json()["error"] == "unsupported_grant_type"


def test_mi_without_a_valid_token_is_401(ionapi):
    for token in ("", "not-a-token"):
        response = mi(ionapi, token, "MMS200MI/GetItmBasic", ITNO="SKU-0001")
        assert response.status_code == 401
        assert response.json() == {
            "error": "invalid_token",
            "error_description": "The access token is invalid or has expired",
        }


def test_get_itm_basic(ionapi, token):
    [item] = mi_records(mi(ionapi, token, "MMS200MI/GetItmBasic", ITNO="SKU-0001  "))
    assert item["ITNO"] == "SKU-0001".ljust(15)
    assert item["ITDS"] == "Compact Steel Bracket".ljust(30)
    assert (item["STAT"], item["UNMS"]) == ("20", "PCS")

    error = mi_error(mi(ionapi, token, "MMS200MI/GetItmBasic", ITNO="SKU-9999"))
    assert error["errorMessage"] == "Item number SKU-9999 does not exist"
    assert (error["errorType"], error["errorField"], error["records"]) == ("ServerReturnedNOK", "ITNO", [])


def test_mi_input_and_call_errors(ionapi, token):
    assert mi_error(mi(ionapi, token, "MMS200MI/GetItmBasic"))["errorType"] == "MandatoryInputFieldNotFound"
    too_long = mi_error(mi(ionapi, token, "MMS200MI/GetItmBasic", ITNO="X" * 16))
    assert (too_long["errorType"], too_long["errorField"]) == ("InputFieldTooLong", "ITNO")
    assert mi_error(mi(ionapi, token, "MMS200MI/NoSuchTrans"))["errorType"] == "TransactionNotFound"
    assert mi(ionapi, token, "NOSUCHMI/Get").status_code == 400
    assert mi_error(mi(ionapi, token, "OIS100MI/AddBatchHead", CUNO="NOBODY"))["errorField"] == "CUNO"
    wrong_tenant = requests.get(f"{ionapi['iu']}/OTHER_TST/M3/m3api-rest/v2/execute/MMS200MI/GetItmBasic",
                                headers={"Authorization": f"Bearer {token}"})
    assert wrong_tenant.status_code == 404


def test_order_batch_flow(sims, ionapi, token):
    cuno = "C000100003"
    orno, confirmed = m3_order(ionapi, token, cuno, "XC-1001", [("SKU-0001", 3), ("SKU-0002", 1)])
    assert orno.startswith("B")
    final = confirmed["ORNO"].strip()
    assert final != orno and (confirmed["ORST"], confirmed["ORSL"], confirmed["STAT"]) == ("22", "22", "90")

    [head] = mi_records(mi(ionapi, token, "OIS100MI/GetHead", ORNO=final))
    assert head["CUNO"] == cuno and head["CUOR"] == "XC-1001".ljust(20) and head["ORST"] == "22"
    lines = mi_records(mi(ionapi, token, "OIS100MI/LstLine", ORNO=final))
    assert [(line["PONR"], line["ITNO"].strip(), line["ORQT"]) for line in lines] == [
        ("1", "SKU-0001", "3.000000"), ("2", "SKU-0002", "1.000000")]
    assert float(head["BRLA"]) == pytest.approx(sum(float(line["ORQT"]) * float(line["SAPR"]) for line in lines))
    assert sims.m3.batch_orders[orno]["final"] == final and final in sims.m3.orders

    assert "already confirmed" in mi_error(mi(ionapi, token, "OIS100MI/Confirm", ORNO=orno))["errorMessage"]
    empty = mi_records(mi(ionapi, token, "OIS100MI/AddBatchHead", CUNO=cuno))[0]["ORNO"]
    assert "No lines" in mi_error(mi(ionapi, token, "OIS100MI/Confirm", ORNO=empty))["errorMessage"]


def test_lst_head_filtered_by_customer_shows_cuor(ionapi, token):
    m3_order(ionapi, token, "C000100007", "XC-LST-1", [("SKU-0005", 2)])
    m3_order(ionapi, token, "C000100008", "XC-LST-2", [("SKU-0005", 1)])
    heads = mi_records(mi(ionapi, token, "OIS100MI/LstHead", CUNO="C000100007"))
    assert {head["CUNO"] for head in heads} == {"C000100007"}
    assert "XC-LST-1".ljust(20) in [head["CUOR"] for head in heads]


def test_search_customer(sims, ionapi, token):
    shared = xcart(sims, "/api/profiles/1").json()["email"]
    [hit] = mi_records(mi(ionapi, token, "CRS610MI/SearchCustomer", SQRY=f"MAIL:{shared.upper()}"))
    assert hit["CUNO"] == "C000100001" and hit["MAIL"].strip() == shared
    store_only = xcart(sims, "/api/profiles/200").json()["email"]
    assert mi_records(mi(ionapi, token, "CRS610MI/SearchCustomer", SQRY=f"MAIL:{store_only}")) == []
    by_name = mi_records(mi(ionapi, token, "CRS610MI/SearchCustomer", SQRY="CUNM:anna", MXRC=3))
    assert len(by_name) == 3 and all(record["CUNM"].startswith("Anna ") for record in by_name)


def test_customer_add_and_get(ionapi, token):
    added = mi_records(mi(ionapi, token, "CRS610MI/Add", CUTM="B2C", CUNM="Zoe Quinn", CUA1="1 Main St",
                          MAIL="zoe.quinn@example.com"))
    cuno = added[0]["CUNO"]
    [customer] = mi_records(mi(ionapi, token, "CRS610MI/GetBasicData", CUNO=cuno))
    assert customer["CUNM"] == "Zoe Quinn".ljust(36) and customer["MAIL"].strip() == "zoe.quinn@example.com"
    assert len(customer["LMDT"]) == 8
    duplicate = mi_error(mi(ionapi, token, "CRS610MI/Add", CUTM="B2C", CUNM="X", CUA1="Y", CUNO=cuno.strip()))
    assert "already exists" in duplicate["errorMessage"]


def test_returncols_and_maxrecs(ionapi, token):
    records = mi_records(mi(ionapi, token, "CRS610MI/LstByNumber;maxrecs=5;returncols=CUNO,MAIL"))
    assert len(records) == 5 and all(set(record) == {"CUNO", "MAIL"} for record in records)
    everything = mi_records(mi(ionapi, token, "MMS060MI/LstBalID;maxrecs=0;returncols=ITNO", WHLO="300"))
    assert len(everything) >= 1000


# Fault injection


def test_fail_next(sims):
    control = requests.post(sims.xcart_url + "/_control/faults", json={"fail_next": 2})
    assert control.json()["fail_next"] == 2
    statuses = [xcart(sims, "/api/products/1").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_rate_limit(sims, ionapi, token):
    requests.post(sims.ionapi_url + "/_control/faults", json={"rate_limit_rate": 1.0, "retry_after": 7})
    response = mi(ionapi, token, "MMS200MI/GetItmBasic", ITNO="SKU-0001")
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert requests.get(sims.ionapi_url + "/_control/faults").status_code == 200  # never faulted
    requests.post(sims.ionapi_url + "/_control/reset")
    assert mi(ionapi, token, "MMS200MI/GetItmBasic", ITNO="SKU-0001").status_code == 200


def test_expire_tokens(sims, ionapi, token):
    requests.post(sims.ionapi_url + "/_control/faults", json={"expire_tokens": True})
    assert mi(ionapi, token, "MMS200MI/GetItmBasic", ITNO="SKU-0001").status_code == 401
    fresh = request_token(ionapi).json()["access_token"]
    assert mi(ionapi, fresh, "MMS200MI/GetItmBasic", ITNO="SKU-0001").status_code == 200


def test_down_and_bad_fault_settings(sims):
    requests.post(sims.xcart_url + "/_control/faults", json={"down": True})
    response = xcart(sims, "/api/products/1")
    assert response.status_code == 503 and response.text == "Service Unavailable"
    unknown = requests.post(sims.xcart_url + "/_control/faults", json={"explode": True})
    assert unknown.status_code == 400 and "explode" in unknown.json()["error"]
    assert requests.post(sims.xcart_url + "/_control/faults", json={"error_rate": 2}).status_code == 400
