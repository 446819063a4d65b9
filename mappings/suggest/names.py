"""What a field's name says: tokens, and the concept a synonym table knows it by.

Field paths come from four systems that name the same thing in four ways: M3's four-letter codes
(``ITNO``), PrestaShop's snake_case (``product_reference``), X-Cart's camelCase (``orderNumber``)
and Notes item names (``CustomerName``). Tokenising them and expanding abbreviations lets a plain
string comparison work; the concept table catches what no string comparison can (``ITNO`` ~ ``sku``).
"""

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

# Abbreviations and spelling variants, one token to its words.
ABBREVIATIONS = {
    "qty": "quantity", "qnt": "quantity", "quant": "quantity", "no": "number", "nr": "number", "num": "number",
    "nbr": "number", "addr": "address", "desc": "description", "descr": "description", "tel": "phone",
    "telephone": "phone", "mobile": "phone", "cust": "customer", "ref": "reference", "amt": "amount",
    "dt": "date", "upd": "updated", "mod": "modified", "modified": "updated", "add": "added", "added": "created",
    "zip": "postcode", "zipcode": "postcode", "postal": "post", "postalcode": "postcode", "plz": "postcode",
    "mail": "email", "e": "", "unid": "id", "uid": "id", "curr": "currency", "ccy": "currency",
    "cnt": "count", "img": "image", "pwd": "password", "lang": "language", "cat": "category",
    "str": "street", "wh": "warehouse", "whs": "warehouse", "loc": "location", "lname": "lastname",
    "fname": "firstname", "surname": "lastname", "forename": "firstname", "given": "first", "family": "last",
    "locality": "city", "town": "city", "firstname": "first name", "lastname": "last name",
}
# Words that carry no meaning in a field name.
STOPWORDS = {"the", "of", "a", "an", "s", "at", "in", "to", "is", "value", "data", "field", "info", "text"}

# M3 field codes: what each means, in words (MI transaction documentation names).
M3_CODES = {
    "ITNO": "item number", "ITDS": "item name", "FUDS": "item description", "CUNO": "customer number",
    "CUNM": "customer name", "CUA1": "address line 1", "CUA2": "address line 2", "CUA3": "address line 3",
    "CUA4": "address line 4", "TOWN": "city", "PONO": "postcode", "CSCD": "country", "MAIL": "email",
    "PHNO": "phone", "PHN2": "phone 2", "TFNO": "fax", "WHLO": "warehouse", "WHSL": "location",
    "STQT": "on hand quantity", "ALQT": "allocated quantity", "ALOC": "allocatable quantity",
    "ORQT": "ordered quantity", "SAPR": "sales price", "CUOR": "customer order reference", "CUCD": "currency",
    "ORNO": "order number", "RLDT": "requested delivery date", "DWDT": "requested delivery date line",
    "ORDT": "order date", "ORTP": "order type", "FACI": "facility", "MODL": "delivery method",
    "TEDL": "delivery terms", "TEPY": "payment terms", "STAT": "status", "UNMS": "unit of measure",
    "ITGR": "item group", "ITCL": "product group", "NEWE": "net weight", "GRWE": "gross weight",
    "LMDT": "change date", "RGDT": "entry date", "CONO": "company code", "DIVI": "division", "BANO": "lot number",
    "LNCD": "language", "CUTM": "customer template", "PONR": "order line number", "ORSL": "lowest status",
    "ORST": "highest status", "ALUN": "alternate unit", "DIA1": "discount", "VTCD": "vat code",
    "YREF": "your reference", "OREF": "our reference", "AGNT": "agent", "SMCD": "salesperson",
}
M3_CODE = re.compile(r"^[A-Z][A-Z0-9]{3,5}$")


@dataclass(frozen=True)
class Concept:
    """A meaning several systems name differently; ``names`` are normalised word strings."""

    key: str
    words: str  # how a reason names it
    names: tuple


# Concepts, each with the normalised names the systems use for it. A name may carry a context:
# "product:reference" is the leaf "reference" in an entity or parent that mentions a product,
# "order:reference" one that mentions an order; "name@customer" the leaf "name" under a customer
# parent. The most specific match decides (see concepts).
CONCEPTS = [
    Concept("item_number", "the item number", (
        "item number", "sku", "product reference", "product:reference", "stock:reference", "item:reference",
        "article number", "product code", "part number", "item code", "product sku")),
    Concept("customer_number", "the customer number", ("customer number", "customer code", "customer no", "account number")),
    Concept("customer_name", "the customer's name", ("customer name", "name@customer", "full name", "customer:name", "person:name", "buyer name")),
    Concept("first_name", "the first name", ("first name", "given name")),
    Concept("last_name", "the last name", ("last name", "family name")),
    Concept("company", "the company", ("company", "company name", "organisation", "organization", "employer")),
    Concept("email", "the e-mail address", ("email", "email address", "customer email", "contact email")),
    Concept("phone", "the phone number", ("phone", "phone number", "telephone number", "customer phone")),
    Concept("street", "street (address line 1)", ("address line 1", "street", "address 1", "street address", "address", "address1", "line 1")),
    Concept("address_line_2", "address line 2", ("address line 2", "address 2", "address2", "line 2", "street 2")),
    Concept("city", "the city", ("city",)),
    Concept("region", "the region (state, province)", (
        "state@address", "state@billing", "state@shipping", "region", "province", "county", "id state", "state code")),
    Concept("postcode", "the postcode", ("postcode", "post code", "postal code")),
    Concept("country", "the country", ("country", "country code", "country id", "id country", "address country", "country iso")),
    Concept("currency", "the currency", ("currency", "currency code", "price currency", "id currency")),
    Concept("order_reference", "the customer's order reference", (
        "customer order reference", "order number", "order reference", "order:reference", "order no",
        "customer order number", "purchase order number")),
    Concept("order_id", "the order id", ("order id", "shop order id", "order:id", "id order")),
    Concept("order_date", "the order date", (
        "order date", "order:date", "order:date added", "order:date created", "order created",
        "date created@order", "order:created", "purchase date", "order placed", "placed at")),
    Concept("ordered_quantity", "the ordered quantity", (
        "ordered quantity", "order quantity", "line:quantity", "item:quantity", "line:amount", "item:amount", "product quantity",
        "row:quantity", "quantity ordered", "row:product quantity")),
    Concept("available_quantity", "the available stock", (
        "allocatable quantity", "stock:quantity", "available quantity", "product:amount", "quantity available",
        "stock available quantity", "stock:amount", "available stock", "product:quantity", "stock")),
    Concept("on_hand_quantity", "the on-hand stock", ("on hand quantity", "on hand", "physical stock", "stock on hand", "quantity on hand")),
    Concept("allocated_quantity", "the allocated stock", ("allocated quantity", "reserved quantity", "physical quantity reserved")),
    Concept("unit_price", "the unit price", (
        "sales price", "unit price", "unit price tax incl", "line:price", "item:price", "product:price", "product price", "row:price", "line price")),
    Concept("order_total", "the order total", (
        "total paid", "order total", "grand total", "order:total", "total", "payment:amount", "order:price", "total amount",
        "total price", "order:amount")),
    Concept("item_name", "the item name", ("item name", "product name", "product:name", "item:name", "title", "product title")),
    Concept("item_description", "the description", ("item description", "description", "long description", "product description", "rich text")),
    Concept("weight", "the weight", ("net weight", "weight", "gross weight")),
    Concept("warehouse", "the warehouse", ("warehouse", "warehouse code", "stock location code", "id warehouse")),
    Concept("status", "the status", ("status", "order status", "current state", "state", "order state", "status code", "id order state")),
    Concept("active", "active flag", ("active", "enabled", "item:status", "product:status", "is active", "visible")),
    Concept("delivery_method", "the delivery method", (
        "delivery method", "shipping method", "shipping method name", "carrier", "id carrier", "ship via", "shipping carrier")),
    Concept("payment_method", "the payment method", ("payment method", "payment method name", "payment", "payment module")),
    Concept("changed_at", "the change date", ("change date", "updated", "date updated", "last renew date", "last modified", "modified at", "updated at")),
    Concept("created_at", "the creation date", ("entry date", "created", "date created", "created date", "added date", "creation date", "created at", "date added")),
    Concept("birth_date", "the birth date", ("birth date", "birthday", "date of birth", "dob")),
    Concept("gender", "the gender", ("gender", "id gender", "sex")),
    Concept("tracking_number", "the tracking number", ("tracking number", "tracking numbers", "tracking", "shipping number", "tracking code")),
    Concept("language", "the language", ("language", "id language", "language code", "locale")),
    Concept("unit", "the unit of measure", ("unit of measure", "unit", "uom", "unity")),
    Concept("item_group", "item group (category)", ("item group", "product group", "category", "id category default", "default category")),
    Concept("login", "the login", ("login", "username", "user name", "user login")),
    Concept("lot", "the lot number", ("lot number", "batch number", "lot")),
    Concept("note", "the note", ("note", "notes", "comment", "remarks")),
    Concept("company_code", "the company", ("company code",)),
]


def split_words(segment: str) -> list[str]:
    """``billingAddress`` -> billing, address; ``id_customer`` -> id, customer; ``ITNO`` -> itno."""
    segment = segment.replace("[]", "").lstrip("@")
    words = []
    for part in re.split(r"[^A-Za-z0-9]+", segment):
        if not part:
            continue
        if part.isupper() or part.islower() or part.isdigit():
            words.append(part.lower())
            continue
        # camelCase / PascalCase / trailing digits: CustomerName, lastRenewDate, CUA1
        words.extend(w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+", part))
    return words


@lru_cache(maxsize=4096)
def normalise(segment: str) -> tuple:
    """The words a path segment means: M3 codes spelled out, abbreviations expanded, stopwords out."""
    bare = segment.replace("[]", "").lstrip("@")
    if M3_CODE.match(bare) and bare in M3_CODES:
        return tuple(M3_CODES[bare].split())
    words = []
    for word in split_words(segment):
        word = ABBREVIATIONS.get(word, word)
        for w in word.split():
            if w and w not in STOPWORDS:
                words.append(singular(w))
    return tuple(words)


def singular(word: str) -> str:
    if word.endswith("sses"):
        return word[:-2]
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


@dataclass(frozen=True)
class FieldName:
    """A field's name as words: its leaf, its parents and the entity it belongs to."""

    path: str
    leaf: tuple
    parents: tuple
    context: frozenset  # words of the parents and the entity label: "product", "order", "line", ...
    label: tuple
    is_m3_code: bool


# lists whose elements are an order's lines; other lists (a profile's addresses) are just plural
LIST_CONTEXT = {"items": "item", "lines": "line", "rows": "row", "order_rows": "row", "orderedItem": "item",
                "line_items": "item", "OrderLines": "line", "order_lines": "line", "orderLines": "line"}


def field_name(path: str, label: str = "", entity: str = "") -> FieldName:
    segments = path.split(".")
    leaf_segment = segments[-1]
    parents = []
    for segment in segments[:-1]:
        parents.extend(normalise(segment))
        if segment.endswith("[]") and segment[:-2] in LIST_CONTEXT:
            parents.append(LIST_CONTEXT[segment[:-2]])
    if leaf_segment.endswith("[]") and leaf_segment[:-2] in LIST_CONTEXT:
        parents.append("line")
    context = set(parents)
    for word in normalise(entity or ""):
        context.add(word)
    for word in re.findall(r"[a-z]+", (entity or "").lower()):
        context.add(singular(word))
    if "stock" in context or "balance" in context:
        context.add("stock")
    if context & {"item", "product", "article"}:
        context.add("product")
    if context & {"line", "row"}:
        context.update({"line", "item"})
    label_words = tuple(w for w in (singular(ABBREVIATIONS.get(x, x)) for x in re.findall(r"[a-z0-9]+", label.lower().replace("e-mail", "email")))
                        if w and w not in STOPWORDS)
    bare = leaf_segment.replace("[]", "").lstrip("@")
    return FieldName(path, normalise(leaf_segment), tuple(parents), frozenset(context), label_words,
                     bool(M3_CODE.match(bare) and bare in M3_CODES))


def _phrase_rank(name: FieldName, phrase: str) -> int:
    """0 when the phrase does not name the field; else how specific the match is: 3 when a parent
    decides it (items[].amount is a quantity), 2 for the name itself, 1 when only the entity does
    (a product's amount is its stock)."""
    leaf = " ".join(name.leaf)
    if "@" in phrase:  # "name@customer": the leaf is "name" and a parent says "customer"
        words, parent = phrase.split("@")
        return 3 if leaf == words and parent in name.parents else 0
    if ":" in phrase:  # "product:reference": the leaf in a product context
        where, words = phrase.split(":")
        if leaf != words or where not in name.context:
            return 0
        return 3 if where in name.parents else 1
    if leaf == phrase or (name.label and " ".join(name.label) == phrase):
        return 2
    # words the parent already says: billingAddress.addressLocality is the city
    own = " ".join(w for w in name.leaf if w not in name.parents)
    if own and own != leaf and own == phrase:
        return 2
    # the parent completes the leaf: billingAddress.street -> "address street", customer.email
    return 2 if " ".join(name.parents[-1:] + name.leaf) == phrase else 0


@lru_cache(maxsize=8192)
def _concepts_cached(name: FieldName) -> tuple:
    ranked = []
    for concept in CONCEPTS:
        rank = max(_phrase_rank(name, phrase) for phrase in concept.names)
        if rank:
            ranked.append((rank, concept))
    best = max((rank for rank, _ in ranked), default=0)
    # a parent that decides the meaning leaves no other (billing.state is a region, not a status);
    # the entity alone only adds one (M3's item STAT is a status and the active flag)
    return (tuple(concept for rank, concept in ranked if rank == best),
            tuple(concept for rank, concept in ranked if rank < best) if best < 3 else ())


def concepts(name: FieldName) -> tuple:
    """The concepts a field is known by: those its most specific match gives."""
    return _concepts_cached(name)[0]


def weaker_concepts(name: FieldName) -> tuple:
    """Concepts a less specific match gives: M3's item STAT is a status, and also the active flag."""
    return _concepts_cached(name)[1]


def words_similarity(a: tuple, b: tuple) -> float:
    """Dice over words, a word matching a near-identical one (``zipcode`` ~ ``zip code`` is handled by
    normalise; this catches ``street`` ~ ``streets``, ``descr`` ~ ``description``)."""
    if not a or not b:
        return 0.0
    matched = 0.0
    used = set()
    for word in a:
        weight = WEAK_WORDS.get(word, 1.0)
        best, best_j = 0.0, None
        for j, other in enumerate(b):
            if j in used:
                continue
            score = 1.0 if word == other else _word_ratio(word, other)
            if score > best:
                best, best_j = score, j
        if best >= 0.8:
            matched += best * weight
            used.add(best_j)
    return 2 * matched / (sum(WEAK_WORDS.get(w, 1.0) for w in a) + sum(WEAK_WORDS.get(w, 1.0) for w in b))


# words every identifier ends with: sharing one says little (vat_number is not a TrackingNumber)
WEAK_WORDS = {"number": 0.5, "id": 0.5, "code": 0.5}


@lru_cache(maxsize=65536)
def _word_ratio(a: str, b: str) -> float:
    if min(len(a), len(b)) >= 4 and (a.startswith(b) or b.startswith(a)):
        return 0.85
    return SequenceMatcher(None, a, b).ratio()


def string_similarity(a: str, b: str) -> float:
    """Character similarity of two raw leaf names, case and separators ignored."""
    a = re.sub(r"[^a-z0-9]", "", a.lower())
    b = re.sub(r"[^a-z0-9]", "", b.lower())
    if not a or not b:
        return 0.0
    return SequenceMatcher(None, a, b).ratio()


IDENTIFIER_WORDS = {"id", "number", "code", "reference", "sku", "key"}


def is_identifier(name: FieldName) -> bool:
    """An id-like field (id_customer, ShopOrderId): its values are keys, not names or amounts."""
    return "id" in name.leaf


def identifier_like(name: FieldName) -> bool:
    return bool(set(name.leaf) & IDENTIFIER_WORDS)


def system_assigned(name: FieldName, path: str) -> bool:
    """A target field its own system sets: the record's id, Notes system items (@unid, @created),
    and the record's own change stamp. No mapping should write them."""
    leaf = path.split(".")[-1]
    if leaf.startswith("@") or (leaf == "id" and "." not in path):
        return True
    return "." not in path and any(c.key in {"changed_at", "created_at"} for c in concepts(name))
