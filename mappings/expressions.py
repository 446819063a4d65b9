"""A small, safe expression language for mapping rules: conditions and computed values.

    paymentStatus.code == "P" and total > 100
    decimal(total) - decimal(shipping)
    concat(billingAddress.firstname, " ", billingAddress.lastname)
    "EXP" if shippingMethodName in ["Courier", "Express"] else "STD"
    sum(items, "price") * 1.2

The text is parsed with Python's ``ast`` module, every node is checked against a whitelist, and the
checked tree is written out as Python source that the mapping engine puts into its generated
function (no ``eval`` of user text, ever). What it allows:

- names and dotted paths are DATA lookups in the record (``billingAddress.city``, ``items[0].price``
  or ``items.0.price``, ``x["odd key"]``, ``field("@unid")``); a missing step gives None. They never
  reach a Python attribute: ``x.__class__`` is refused, so are all dunder names;
- literals (text, numbers, True / False / None, lists), ``+ - * / // %`` on numbers with Decimal
  maths (a float from JSON becomes the Decimal of its shortest repr: 9.99 stays 9.99), ``+`` also
  joins texts and lists, ``*`` repeats a text up to ``MAX_TEXT`` characters;
- comparisons (``== != < <= > >= in not in is None``), ``and or not``, ``x if c else y``, slices;
- calls of the functions in ``FUNCTIONS`` only (pure, by name, no keywords), plus ``field("path")``
  for keys that are not names and ``lookup("value-map", x[, default])``, both checked at compile time.

In a list rule (``lines[].X``) or a child mapping, names are read in the element being mapped.

Refused, with a message at publish time: ``**``, attribute or method calls on values, lambdas,
comprehensions, ``:=``, f-strings, star arguments, anything longer than ``MAX_LENGTH`` characters
or bigger than ``MAX_NODES`` nodes. At run time, what a record can make grow is bounded too: texts
and lists (``MAX_TEXT``), whole-number products (``MAX_BITS``), decimal exponents (``MAX_EXPONENT``).
"""

import ast
import io
import operator
import re
import tokenize
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from mappings.transforms import dig

MAX_LENGTH = 500  # characters of expression text (the rule field holds 500)
MAX_NODES = 200
MAX_TEXT = 10_000  # characters a repetition / replace may produce
MAX_BITS = 4096  # whole numbers multiplied stay below ~1,200 digits
MAX_EXPONENT = 1000  # decimal('1e999999999') from a record is refused: no billion-digit numbers


class ExpressionError(ValueError):
    """An expression that is not allowed or cannot be parsed (compile time), or fails on a value (run time)."""


# --- run-time helpers: what the generated code calls ----------------------------------------------


def _num(x):
    cls = x.__class__
    if cls is int or cls is Decimal:
        return x
    if cls is float:
        return Decimal(repr(x))
    if x is None:
        raise ExpressionError("a value is missing (None) where a number is needed")
    raise ExpressionError(f"{x!r} is not a number (use decimal() to read a number from a text)")


def _add(a, b):
    ca, cb = a.__class__, b.__class__
    if ca is int and cb is int or ca is str and cb is str or ca is list and cb is list:
        return a + b
    return (Decimal(repr(a)) if ca is float else _num(a)) + (Decimal(repr(b)) if cb is float else _num(b))


def _sub(a, b):
    ca, cb = a.__class__, b.__class__
    if ca is int and cb is int:
        return a - b
    return (Decimal(repr(a)) if ca is float else _num(a)) - (Decimal(repr(b)) if cb is float else _num(b))


def _mul(a, b):
    ca, cb = a.__class__, b.__class__
    if ca is int and cb is int:
        if a.bit_length() + b.bit_length() > MAX_BITS:
            raise ExpressionError("the product of these whole numbers is too large")
        return a * b
    if ca is float and (cb is int or cb is Decimal):  # price * quantity
        return Decimal(repr(a)) * b
    for seq, times in ((a, b), (b, a)):
        if seq.__class__ in (str, list) and times.__class__ is int:
            if len(seq) * max(times, 0) > MAX_TEXT:
                raise ExpressionError(f"repeating {len(seq)} items {times} times is over the limit of {MAX_TEXT}")
            return seq * times
    return _num(a) * _num(b)


def _div(a, b):
    divisor = _num(b)
    if divisor == 0:
        raise ExpressionError("division by zero")
    return Decimal(_num(a)) / divisor


def _floordiv(a, b):
    divisor = _num(b)
    if divisor == 0:
        raise ExpressionError("division by zero")
    return _num(a) // divisor


def _mod(a, b):
    # numbers only: '%' on a text would be printf formatting ('%999999999d' % 1)
    divisor = _num(b)
    if divisor == 0:
        raise ExpressionError("division by zero")
    return _num(a) % divisor


def _neg(a):
    return -_num(a)


def _eq(a, b):
    if a.__class__ is float:
        a = Decimal(repr(a))
    if b.__class__ is float:
        b = Decimal(repr(b))
    return a == b


def _ordered(a, b, op: str):
    if a.__class__ is float:
        a = Decimal(repr(a))
    if b.__class__ is float:
        b = Decimal(repr(b))
    if a is None or b is None:
        raise ExpressionError(f"cannot compare {a!r} {op} {b!r}: a value is missing")
    try:
        return _ORDER_OPS[op](a, b)
    except TypeError:
        raise ExpressionError(f"cannot compare {a!r} {op} {b!r} (a text with a number? use decimal())") from None


_ORDER_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _lt(a, b):
    if a.__class__ is int and b.__class__ is int:
        return a < b
    return _ordered(a, b, "<")


def _le(a, b):
    if a.__class__ is int and b.__class__ is int:
        return a <= b
    return _ordered(a, b, "<=")


def _gt(a, b):
    if a.__class__ is int and b.__class__ is int:
        return a > b
    return _ordered(a, b, ">")


def _ge(a, b):
    if a.__class__ is int and b.__class__ is int:
        return a >= b
    return _ordered(a, b, ">=")


def _in(a, b):
    if b is None:
        return False
    if b.__class__ is str:
        return a.__class__ is str and a in b
    if b.__class__ is list:
        return any(_eq(a, e) for e in b)
    if b.__class__ is dict:
        return a in b if a.__class__ is str else False
    raise ExpressionError(f"'in' needs a text, a list or an object on its right, got {b!r}")


def _item(obj, key):
    """obj[key] for data only: a dict by text key, a list by whole-number index; else None."""
    if obj.__class__ is dict:
        return obj.get(key) if key.__class__ is str else None
    if obj.__class__ is list and key.__class__ is int and -len(obj) <= key < len(obj):
        return obj[key]
    return None


def _slice(obj, start, stop):
    if obj is None:
        return None
    if obj.__class__ not in (str, list):
        raise ExpressionError(f"only a text or a list can be sliced, got {obj!r}")
    for bound in (start, stop):
        if bound is not None and bound.__class__ is not int:
            raise ExpressionError(f"a slice bound should be a whole number, got {bound!r}")
    return obj[start:stop]




# --- the functions an expression may call ---------------------------------------------------------


def _plain(number: Decimal) -> str:
    """A Decimal as plain text ('29.97', not '2.997E+1'), unless that would be huge ('1E+999999999'
    from a record would be a billion characters): then the short scientific form."""
    if number.is_finite() and -40 <= number.adjusted() <= 40:
        return format(number, "f")
    return str(number)


def _text(x) -> str:
    if x.__class__ is str:
        return x
    if x is None:
        return ""
    if x is True or x is False:
        return "true" if x else "false"
    if x.__class__ is Decimal:
        return _plain(x)
    if x.__class__ in (list, dict):
        raise ExpressionError(f"{x!r:.80} is a {type(x).__name__}, not a text")
    return str(x)


def f_len(x):
    if x is None:
        return 0
    if x.__class__ in (str, list, dict):
        return len(x)
    return len(_text(x))


def f_lower(x):
    return None if x is None else _text(x).lower()


def f_upper(x):
    return None if x is None else _text(x).upper()


def f_trim(x):
    return None if x is None else _text(x).strip()


def f_decimal(x):
    if x.__class__ is str:
        try:
            number = Decimal(x.strip())
        except InvalidOperation:
            raise ExpressionError(f"{x!r} is not a number") from None
        if not number.is_finite():
            raise ExpressionError(f"{x!r} is not a finite number")
        if not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
            raise ExpressionError(f"{x!r} is too large (or too small) a number")
        return number
    if x is True or x is False:
        raise ExpressionError(f"{x!r} is not a number")
    return Decimal(_num(x))


def f_int(x):
    number = f_decimal(x) if x.__class__ is not int else x
    if abs(number) >= 10 ** 30:
        raise ExpressionError(f"{x!r} is too large a whole number")
    return int(number)  # towards zero, like Python's int()


def f_round(x, places=0):
    if places.__class__ is not int or not 0 <= places <= 12:
        raise ExpressionError(f"round() places should be a whole number 0-12, got {places!r}")
    number = f_decimal(x) if x.__class__ is str else Decimal(_num(x))
    try:
        return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)  # commerce rounds half up
    except InvalidOperation:
        raise ExpressionError(f"{x!r} is too large to round to {places} places") from None


def f_str(x):
    return _text(x)


def f_concat(*parts):
    return "".join(_text(p) for p in parts if p is not None)


def _blank(x) -> bool:
    return x is None or (x.__class__ is str and not x.strip()) or (x.__class__ in (list, dict) and not x)


def f_coalesce(*values):
    for value in values:
        if not _blank(value):
            return value
    return None


def f_empty(x):
    return _blank(x)


def f_contains(haystack, needle):
    return _in(needle, haystack)


def f_startswith(text, prefix):
    return text is not None and _text(text).startswith(_text(prefix))


def f_endswith(text, suffix):
    return text is not None and _text(text).endswith(_text(suffix))


def _numbers(values) -> list:
    if len(values) == 1 and values[0].__class__ is list:
        values = values[0]
    return [_num(v) for v in values if v is not None]


def f_min(*values):
    numbers = _numbers(values)
    return min(numbers) if numbers else None


def f_max(*values):
    numbers = _numbers(values)
    return max(numbers) if numbers else None


def f_abs(x):
    return abs(_num(x))


def f_sum(values, field=None):
    """sum(list) of numbers, or sum(items, "price") of one (dotted) field of each element."""
    if values is None:
        return 0
    if values.__class__ is not list:
        raise ExpressionError(f"sum() needs a list, got {values!r:.80}")
    if field is not None:
        parts = tuple(_text(field).split("."))
        values = [dig(e, parts) for e in values]
    total = 0
    for value in values:
        if value is not None:
            total = _add(total, f_decimal(value) if value.__class__ is str else value)
    return total


def f_replace(text, old, new):
    if text is None:
        return None
    text, old, new = _text(text), _text(old), _text(new)
    if not old:
        raise ExpressionError("replace() needs a non-empty text to replace")
    if len(text) + text.count(old) * (len(new) - len(old)) > MAX_TEXT:
        raise ExpressionError(f"replace() would make a text over {MAX_TEXT} characters")
    return text.replace(old, new)


def f_join(values, separator=" "):
    if values is None:
        return ""
    if values.__class__ is not list:
        return _text(values)
    return _text(separator).join(_text(v) for v in values if v is not None)


def f_split(text, separator=None):
    if text is None:
        return []
    parts = _text(text).split(_text(separator)) if separator else _text(text).split()
    return [part.strip() for part in parts if part.strip()]


# name -> (function, least arguments, most arguments or None for any)
FUNCTIONS = {
    "len": (f_len, 1, 1), "lower": (f_lower, 1, 1), "upper": (f_upper, 1, 1), "trim": (f_trim, 1, 1),
    "round": (f_round, 1, 2), "int": (f_int, 1, 1), "decimal": (f_decimal, 1, 1), "str": (f_str, 1, 1),
    "concat": (f_concat, 1, None), "coalesce": (f_coalesce, 1, None), "empty": (f_empty, 1, 1),
    "contains": (f_contains, 2, 2), "startswith": (f_startswith, 2, 2), "endswith": (f_endswith, 2, 2),
    "min": (f_min, 1, None), "max": (f_max, 1, None), "abs": (f_abs, 1, 1), "sum": (f_sum, 1, 2),
    "replace": (f_replace, 3, 3), "join": (f_join, 1, 2), "split": (f_split, 1, 2),
}
SPECIAL = ("field", "lookup")  # field("odd@path"), lookup("value-map", value[, default]): literal names, checked now

HELPERS = {"_x_" + fn.__name__.lstrip("_"): fn for fn in (
    _add, _sub, _mul, _div, _floordiv, _mod, _neg, _eq, _lt, _le, _gt, _ge, _in, _item, _slice)}
HELPERS["_x_path"] = dig  # a dotted path in an expression is a data look-up, never an attribute
HELPERS.update({"_x_f_" + name: spec[0] for name, spec in FUNCTIONS.items()})


def _lookup(table: dict, name: str, value, default):
    key = _text(value)
    if key in table:
        return table[key]
    if default is not _NO_DEFAULT:
        return default
    raise ExpressionError(f"{key!r} is not in value map {name!r} and lookup() has no default")


_NO_DEFAULT = object()
HELPERS["_x_lookup"] = _lookup
HELPERS["_x_nodefault"] = _NO_DEFAULT


# --- compile time ---------------------------------------------------------------------------------

_BINARY = {ast.Add: "_x_add", ast.Sub: "_x_sub", ast.Mult: "_x_mul", ast.Div: "_x_div",
           ast.FloorDiv: "_x_floordiv", ast.Mod: "_x_mod"}
_COMPARE = {ast.Lt: "_x_lt", ast.LtE: "_x_le", ast.Gt: "_x_gt", ast.GtE: "_x_ge"}
_REFUSED = {
    ast.Pow: "'**' is not allowed", ast.Lambda: "lambda is not allowed", ast.NamedExpr: "':=' is not allowed",
    ast.ListComp: "comprehensions are not allowed", ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed", ast.GeneratorExp: "comprehensions are not allowed",
    ast.JoinedStr: "f-strings are not allowed; use concat()", ast.Starred: "'*' arguments are not allowed",
    ast.Dict: "object literals are not allowed", ast.Set: "set literals are not allowed",
    ast.Await: "await is not allowed", ast.Yield: "yield is not allowed", ast.YieldFrom: "yield is not allowed",
    ast.LShift: "'<<' is not allowed", ast.RShift: "'>>' is not allowed", ast.BitOr: "'|' is not allowed",
    ast.BitAnd: "'&' is not allowed", ast.BitXor: "'^' is not allowed", ast.Invert: "'~' is not allowed",
    ast.MatMult: "'@' is not allowed",
}
_DUNDER = re.compile(r"__\w*__\Z")


def _indexes_as_subscripts(text: str) -> str:
    """items.0.price -> items[0].price: Python reads '.0' as a number, the mapping paths mean an index."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return text  # ast.parse reports it properly
    offsets = [0]
    for line in text.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(line))
    out, position, previous = [], 0, None
    for token in tokens:
        if (token.type == tokenize.NUMBER and re.fullmatch(r"\.\d+", token.string) and previous is not None
                and previous.end == token.start
                and (previous.type in (tokenize.NAME, tokenize.NUMBER) or previous.string in (")", "]"))):
            start = offsets[token.start[0] - 1] + token.start[1]
            out.append(text[position:start] + f"[{token.string[1:]}]")
            position = start + len(token.string)
        previous = token
    out.append(text[position:])
    return "".join(out)


class Compiler:
    """Checks one expression and writes it as Python source reading the record from ``root``.

    ``names`` gives hoisted constants a name in the generated code's namespace (``names(prefix,
    value) -> name``); ``temp()`` a fresh local variable name for path lookups."""

    def __init__(self, text: str, root: str, names, temp, value_maps: dict | None = None):
        self.text, self.root, self.names, self.temp = text, root, names, temp
        self.value_maps = value_maps or {}

    def fail(self, why: str):
        raise ExpressionError(f"expression {self.text!r}: {why}")

    def source(self) -> str:
        text = self.text
        if not text or not text.strip():
            self.fail("is empty")
        if len(text) > MAX_LENGTH:
            raise ExpressionError(f"expression {text[:40]!r}...: is {len(text)} characters, at most {MAX_LENGTH}")
        try:
            tree = ast.parse(_indexes_as_subscripts(text.strip()), mode="eval")
        except SyntaxError as exc:
            self.fail(f"is not a valid expression ({exc.msg})")
        except (ValueError, RecursionError, MemoryError):
            self.fail("cannot be parsed")
        count = sum(1 for _ in ast.walk(tree))
        if count > MAX_NODES:
            self.fail(f"is too complex ({count} parts, at most {MAX_NODES})")
        return self.node(tree.body)

    def node(self, n) -> str:  # noqa: C901 - one branch per allowed node kind, on purpose
        kind = type(n)
        if kind in _REFUSED:
            self.fail(_REFUSED[kind])
        if kind is ast.Constant:
            return self.constant(n.value)
        if kind is ast.Name:
            self.check_name(n.id, "name")
            return f"{self.root}.get({n.id!r})"
        if kind is ast.Attribute:
            self.check_name(n.attr, "attribute")
            return self.dict_step(self.node(n.value), n.attr)
        if kind is ast.Subscript:
            return self.subscript(n)
        if kind is ast.BinOp:
            if type(n.op) in _REFUSED:
                self.fail(_REFUSED[type(n.op)])
            if type(n.op) not in _BINARY:
                self.fail(f"operator {type(n.op).__name__} is not allowed")
            return f"{_BINARY[type(n.op)]}({self.node(n.left)}, {self.node(n.right)})"
        if kind is ast.UnaryOp:
            if isinstance(n.op, ast.Not):
                return f"(not {self.node(n.operand)})"
            if isinstance(n.op, ast.USub):
                return f"_x_neg({self.node(n.operand)})"
            if isinstance(n.op, ast.UAdd):
                return self.node(n.operand)
            self.fail(_REFUSED.get(type(n.op), "operator is not allowed"))
        if kind is ast.BoolOp:
            joiner = " and " if isinstance(n.op, ast.And) else " or "
            return "(" + joiner.join(self.node(v) for v in n.values) + ")"
        if kind is ast.Compare:
            return self.compare(n)
        if kind is ast.IfExp:
            return f"({self.node(n.body)} if {self.node(n.test)} else {self.node(n.orelse)})"
        if kind in (ast.List, ast.Tuple):
            return "[" + ", ".join(self.node(e) for e in n.elts) + "]"
        if kind is ast.Call:
            return self.call(n)
        self.fail(f"{kind.__name__} is not allowed")

    def check_name(self, name: str, what: str):
        if _DUNDER.match(name):
            self.fail(f"{what} {name!r} is not allowed")

    def constant(self, value) -> str:
        if value is None or value is True or value is False or value.__class__ is int:
            if value.__class__ is int and abs(value) >= 10 ** 30:
                self.fail(f"the number {value} is too large")
            return repr(value)
        if value.__class__ is float:
            if value - value != 0:
                self.fail(f"the number {value!r} is not finite")
            return self.names("N", Decimal(repr(value)))  # 1.19 means exactly 1.19
        if value.__class__ is str:
            if len(value) > MAX_LENGTH:
                self.fail("a text is too long")
            return repr(value)
        self.fail(f"the literal {value!r} is not allowed")

    def dict_step(self, inner: str, key: str) -> str:
        t = self.temp()
        return f"({t}.get({key!r}) if ({t} := {inner}).__class__ is dict else None)"

    def subscript(self, n) -> str:
        inner = self.node(n.value)
        index = n.slice
        if isinstance(index, ast.Slice):
            if index.step is not None:
                self.fail("slices with a step are not allowed")
            start = self.node(index.lower) if index.lower else "None"
            stop = self.node(index.upper) if index.upper else "None"
            return f"_x_slice({inner}, {start}, {stop})"
        if isinstance(index, ast.Constant) and index.value.__class__ is str:
            self.check_name(index.value, "key")
            return self.dict_step(inner, index.value)
        if isinstance(index, ast.Constant) and index.value.__class__ is int:
            t, i = self.temp(), index.value
            bound = f"len({t}) > {i}" if i >= 0 else f"len({t}) >= {-i}"
            return f"({t}[{i}] if ({t} := {inner}).__class__ is list and {bound} else None)"
        return f"_x_item({inner}, {self.node(index)})"

    def compare(self, n) -> str:
        parts, left = [], self.node(n.left)
        for position, (op, right_node) in enumerate(zip(n.ops, n.comparators)):
            right = self.node(right_node)
            if position < len(n.ops) - 1:  # a < b < c: b once
                t = self.temp()
                right_value, right = f"({t} := {right})", t
            else:
                right_value = right
            plain_text = isinstance(right_node, ast.Constant) and right_node.value.__class__ in (str, bool, type(None))
            if isinstance(op, (ast.Eq, ast.NotEq)):
                expr = (f"({left} == {right_value})" if plain_text else f"_x_eq({left}, {right_value})")
                parts.append(expr if isinstance(op, ast.Eq) else f"(not {expr})")
            elif type(op) in _COMPARE:
                parts.append(f"{_COMPARE[type(op)]}({left}, {right_value})")
            elif isinstance(op, (ast.In, ast.NotIn)):
                expr = f"_x_in({left}, {right_value})"
                parts.append(expr if isinstance(op, ast.In) else f"(not {expr})")
            elif isinstance(op, (ast.Is, ast.IsNot)):
                if not (isinstance(right_node, ast.Constant) and right_node.value is None):
                    self.fail("'is' is only allowed as 'is None' / 'is not None'")
                parts.append(f"({left} {'is' if isinstance(op, ast.Is) else 'is not'} None)")
            else:
                self.fail(f"comparison {type(op).__name__} is not allowed")
            left = right
        return parts[0] if len(parts) == 1 else "(" + " and ".join(parts) + ")"

    def call(self, n) -> str:
        if not isinstance(n.func, ast.Name):
            self.fail("only functions can be called, by name (lower(x), not x.lower())")
        name = n.func.id
        allowed = ", ".join(sorted([*FUNCTIONS, *SPECIAL]))
        if name not in FUNCTIONS and name not in SPECIAL:
            self.fail(f"function {name!r} is not allowed; allowed: {allowed}")
        if n.keywords:
            self.fail(f"{name}() takes no keyword arguments")
        if name == "field":
            if len(n.args) != 1 or not (isinstance(n.args[0], ast.Constant) and n.args[0].value.__class__ is str):
                self.fail('field() takes one literal path, e.g. field("@unid")')
            parts = tuple(n.args[0].value.split("."))
            for part in parts:
                self.check_name(part, "key")
            return f"_x_path({self.root}, {parts!r})"
        if name == "lookup":
            return self.lookup(n)
        function, least, most = FUNCTIONS[name]
        if len(n.args) < least or (most is not None and len(n.args) > most):
            wanted = f"{least}" if least == most else f"{least} or more" if most is None else f"{least} to {most}"
            self.fail(f"{name}() takes {wanted} argument{'s' if most != 1 else ''}, got {len(n.args)}")
        return f"_x_f_{name}(" + ", ".join(self.node(a) for a in n.args) + ")"

    def lookup(self, n) -> str:
        if not 2 <= len(n.args) <= 3 or not (isinstance(n.args[0], ast.Constant) and n.args[0].value.__class__ is str):
            self.fail('lookup() takes a value map name, a value and maybe a default: lookup("carriers", x, "STD")')
        name = n.args[0].value
        if name not in self.value_maps:
            known = ", ".join(sorted(self.value_maps)) or "none"
            self.fail(f"there is no value map {name!r} (value maps: {known})")
        table = self.names("VM", self.value_maps[name])
        default = self.node(n.args[2]) if len(n.args) == 3 else "_x_nodefault"
        return f"_x_lookup({table}, {name!r}, {self.node(n.args[1])}, {default})"


def compile_expression(text: str, value_maps: dict | None = None):
    """A function record -> value for one expression (the engine inlines expressions instead;
    this is for previews and tests). Its ``source`` attribute is the generated Python."""
    namespace = dict(HELPERS)
    counter = [0]

    def names(prefix, value):
        key = f"{prefix}{len(namespace)}"
        namespace[key] = value
        return key

    def temp():
        counter[0] += 1
        return f"_t{counter[0]}"

    body = Compiler(text, "record", names, temp, value_maps).source()
    source = f"def expression(record):\n    return {body}\n"
    exec(compile(source, f"<expression {text[:40]!r}>", "exec"), namespace)  # noqa: S102 - whitelisted tree only
    fn = namespace["expression"]
    fn.source = source
    return fn


def output(value):
    """What an expression's result becomes in a mapped record (JSON): a Decimal as plain text ('29.97')."""
    if value.__class__ is Decimal:
        return _plain(value)
    if value.__class__ is list:
        return [output(e) for e in value]
    return value
