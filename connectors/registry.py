"""The connector classes by kind: one line per external system, also the admin's choices."""

from connectors.domino.connector import DominoConnector
from connectors.generic.connector import GenericRestConnector
from connectors.infor_m3.connector import M3Connector
from connectors.prestashop.connector import PrestaShopConnector
from connectors.xcart.connector import XCartConnector

CONNECTORS = {
    cls.kind: cls
    for cls in (XCartConnector, PrestaShopConnector, M3Connector, DominoConnector, GenericRestConnector)
}


def kind_choices():
    return [(kind, cls.label) for kind, cls in CONNECTORS.items()]


def auth_kind_choices():
    labels = {"api_token": "API token header", "ionapi": "ION API OAuth2 (.ionapi file)", "basic": "HTTP Basic",
              "bearer": "Bearer token", "domino_jwt": "Domino REST API (JWT)", "ws_key": "PrestaShop Webservice key",
              "legacy_key": "X-Cart REST API add-on key (5.0-5.4)", "api_key_header": "API key in a header", "none": "none"}
    kinds = sorted({a for cls in CONNECTORS.values() for a in cls.auth_kinds} | set(labels))
    return [(k, labels.get(k, k)) for k in kinds]
