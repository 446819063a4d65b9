"""Compile a mapping snapshot once into a plain function, then apply it to many records.

The function is generated Python source with every rule written out: path lookups hoisted (a
prefix like ``billingAddress`` is read once), the simple transforms (trim, case, text:N, integer,
decimal, lookup) written inline, expressions (mappings/expressions.py) compiled into the code,
no per-rule bookkeeping. That is what makes 50,000+ records per second per core possible.
``compile_snapshot(...).source`` shows the code.

Rules (one per target field; see mappings/models.py for the snapshot format):

- ``order.CUOR <- orderNumber``: dotted paths, ``addresses.0.street`` for a list element;
- ``customer.CUNM <- firstname, lastname``: several sources joined (``join:SEP`` as the first
  transform gives the separator, a space by default), empty parts left out;
- ``constant`` (the chain is applied now, at compile time), ``default`` when the value is empty,
  ``required``; ``transforms`` a chain (mappings/transforms.py) applied to a non-empty value;
- ``condition``: an expression; the rule applies only when it is true;
- ``expression``: computes the value instead of a source;
- ``lines[].ITNO <- items[].sku``: one output element per element of the source list;
- ``child``: a nested snapshot applied to each element of a list (``lines[] <- items[]``) or to
  one object (``address <- billingAddress``). A scalar element is seen by the child as
  ``{"value": element}``.

A bad rule (unknown transform, bad argument or expression, unknown value map, a list target
without a list source, two rules writing a value and a field inside it) raises ``MappingError``
at compile time, which ``Mapping.publish()`` does first. At run time a failure raises
``MappingError`` naming the rule, the value and why; when the snapshot has a ``target_schema``
(a name in mappings/schemas.py, or a schema dict) the output is validated before it is returned,
minus the checks the rules already guarantee. Nothing half-mapped is ever returned.

Which rule failed is found from the line of the generated code the exception came from, so
the happy path pays nothing for it. Compiled functions are cached by version.
"""

import functools
import re
from decimal import Decimal

from mappings import expressions, schemas, transforms
from mappings.models import Mapping, MappingVersion


class MappingError(Exception):
    """The record cannot be mapped (or the mapping cannot compile); permanent, the message names the rule and the value."""


_EMPTY_DICT: dict = {}  # read-only view of a missing object: never written to
_EMPTY_LIST = ()
_INDEX = re.compile(r"\[(\d+)\]")
_MAX_PROBLEMS = 5


def _label(data: dict) -> str:
    return f"{data.get('target', '')} <- {data.get('source') or data.get('expression') or repr(data.get('constant', ''))}"


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _parts(path: str) -> list[str]:
    """'addresses[0].street' or 'addresses.0.street' -> ['addresses', '0', 'street']."""
    return [part.strip() for part in _INDEX.sub(r".\1", path.strip()).split(".")]


# --- rules ----------------------------------------------------------------------------------------


class _Step:
    """One transform of a chain, built (its argument checked) at compile time."""

    def __init__(self, name: str, argument: str, fn):
        self.name, self.argument, self.fn = name, argument, fn
        self.label = f"{name}:{argument}" if argument else name


class _Rule:
    """A snapshot rule, checked: everything that can be wrong with it fails here, at compile time."""

    def __init__(self, data: dict, context: transforms.Context):
        self.data = data
        self.label = _label(data)
        self.target = (data.get("target") or "").strip()
        self.constant = data.get("constant") or ""
        self.default = data.get("default") or ""
        self.required = bool(data.get("required"))
        self.condition = (data.get("condition") or "").strip()
        self.expression = (data.get("expression") or "").strip()
        self.child = data.get("child")
        self.sources = [s.strip() for s in (data.get("source") or "").split(",") if s.strip()]
        lists = self.target.count("[]")
        if self.child is not None:
            shape_ok = lists == 0 or (lists == 1 and self.target.endswith("[]"))
        else:
            shape_ok = lists == 0 or (lists == 1 and re.search(r"\[\]\.[^\[\]]+\Z", self.target) is not None)
        if not shape_ok:
            self.fail("only one list level per rule (lines[].ITNO, or lines[] with a child mapping); "
                      "use a child mapping for lists inside lists")
        if not self.target or not all(_parts(self.target.replace("[]", ""))):
            self.fail(f"the target {self.target!r} should be a dotted path like order.CUOR or lines[].ITNO")
        try:
            steps = transforms.parse_chain(data.get("transforms") or "")
            self.steps = [_Step(name, arg, transforms.build(name, arg, context)) for name, arg in steps]
        except transforms.TransformError as exc:
            self.fail(str(exc))
        self.separator = " "
        if len(self.sources) > 1 and self.steps and self.steps[0].name == "join":
            self.separator = transforms._unquote(self.steps[0].argument) if self.steps[0].argument else " "
            self.steps = self.steps[1:]
        if self.expression and (self.sources or self.constant):
            self.fail("a rule computes its value from an expression or reads a source (or a constant), not both")
        if self.child is not None:
            if self.constant or self.expression or self.steps or self.default:
                self.fail("a rule with a child mapping takes a source only (no constant, expression, transforms or default)")
            if len(self.sources) != 1:
                self.fail("a rule with a child mapping needs one source: the list (items[]) or object it maps")
            if self.target.endswith("[]") != self.sources[0].endswith("[]"):
                self.fail("a list target (lines[]) needs a list source (items[]) and an object target an object source")
        self.constant_value = None
        if self.constant:
            value = self.constant
            for step in self.steps:
                try:
                    value = step.fn(value)
                except Exception as exc:  # noqa: BLE001 - any failure of a transform on the constant
                    self.fail(f"transform '{step.label}' fails on the constant {self.constant!r}: {exc}")
            self.constant_value = expressions.output(value)

    def fail(self, why: str):
        raise MappingError(f"rule {self.label}: {why}")


# --- code generation ------------------------------------------------------------------------------


class _Scope:
    """Where a group of rules reads (a dict variable) and writes (the output dict variable)."""

    def __init__(self, gen, root: str, element: str | None, out: str, marker: int, list_info=None):
        self.gen, self.root, self.element, self.out, self.marker = gen, root, element, out, marker
        self.list_info = list_info  # (list variable, element variable, source text) inside a list loop
        self.hoisted: dict[tuple, str] = {}
        self.setup: list[str] = []  # lines that go at the marker: hoisted lookups, output dicts
        self.dicts: dict[tuple, str] = {}  # output path -> variable of an intermediate dict
        self.leaves: dict[tuple, str] = {}  # output path -> label of a rule writing it

    def view(self, parts: tuple, kind: str) -> str:
        """A variable holding the dict (or list) at parts below the root, empty when there is none."""
        if not parts:
            return self.root if kind == "dict" else "_EL"
        key = (parts, kind)
        if key in self.hoisted:
            return self.hoisted[key]
        var = self.gen.var("h")
        *head, last = parts
        if last.lstrip("-").isdigit():
            parent = self.view(tuple(head), "list")
            i = int(last)
            bound = f"len({parent}) > {i}" if i >= 0 else f"len({parent}) >= {-i}"
            self.setup.append(f"{var} = {parent}[{i}] if {bound} else None")
        else:
            parent = self.view(tuple(head), "dict") if head else self.root
            self.setup.append(f"{var} = {parent}.get({last!r})")
        empty = "_E" if kind == "dict" else "_EL"
        self.setup.append(f"if {var}.__class__ is not {kind}: {var} = {empty}")
        self.hoisted[key] = var
        return var

    def read(self, path: str) -> str:
        """An expression for the value at path (None when missing)."""
        parts = tuple(_parts(path))
        *head, last = parts
        if last.lstrip("-").isdigit():
            parent = self.view(tuple(head), "list")
            i = int(last)
            bound = f"len({parent}) > {i}" if i >= 0 else f"len({parent}) >= {-i}"
            return f"({parent}[{i}] if {bound} else None)"
        parent = self.view(tuple(head), "dict") if head else self.root
        return f"{parent}.get({last!r})"

    def target(self, rule_label: str, path: list[str]) -> tuple[str, str]:
        """(dict variable, key) to write the target path; intermediate dicts made at the scope start."""
        full = tuple(path)
        for known in self.leaves:
            if known[:len(full)] == full and known != full or full[:len(known)] == known and known != full:
                raise MappingError(f"rule {rule_label}: {'.'.join(full)} and {'.'.join(known)} (rule "
                                   f"{self.leaves[known]}) cannot both be written: one is inside the other")
        self.leaves.setdefault(full, rule_label)
        parent = self.out
        for depth in range(1, len(path)):
            prefix = full[:depth]
            if prefix not in self.dicts:
                var = self.gen.var("o")
                self.setup.append(f"{var} = {parent}[{prefix[-1]!r}] = {{}}")
                self.dicts[prefix] = var
            parent = self.dicts[prefix]
        return parent, path[-1]

    def close(self, indent: int):
        """Put the setup lines at the marker; drop the intermediate dicts no rule wrote into."""
        self.gen.insert(self.marker, indent, self.setup)
        for prefix, var in reversed(list(self.dicts.items())):
            parent = self.dicts.get(prefix[:-1], self.out)
            self.gen.emit(indent, f"if not {var}: del {parent}[{prefix[-1]!r}]")


class _Generator:
    """Writes the Python source of one mapping: a function ``run(record)`` with every rule inlined.

    Only names and literals the generator controls reach the source: paths and keys are written
    with repr(), rule values (constants, defaults, functions) are names in the namespace."""

    def __init__(self, value_maps: dict):
        self.value_maps = value_maps
        self.lines: list[list] = []  # [text, context]
        self.context = None
        self.counter = 0
        self.namespace: dict = {"MappingError": MappingError, "_E": _EMPTY_DICT, "_EL": _EMPTY_LIST,
                                "_TEXT": transforms._text, "_Decimal": Decimal, "_OUT": expressions.output,
                                "_MISSING_AT": _missing_at, **expressions.HELPERS}
        self.children: list = []

    def var(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def name(self, prefix: str, value) -> str:
        key = self.var(prefix.upper())
        self.namespace[key] = value
        return key

    def emit(self, indent: int, line: str):
        self.lines.append(["    " * indent + line, self.context])

    def insert(self, at: int, indent: int, lines: list[str]):
        self.lines[at:at] = [["    " * indent + line, None] for line in lines]

    def expression(self, text: str, root: str, rule: _Rule) -> str:
        try:
            return expressions.Compiler(text, root, self.name, lambda: self.var("_t"), self.value_maps).source()
        except expressions.ExpressionError as exc:
            rule.fail(str(exc))

    # -- one rule

    def rule(self, indent: int, rule: _Rule, scope: _Scope, sources: list[str]):
        if rule.condition:
            self.context = ("condition", rule, None, scope.list_info)
            self.emit(indent, f"if {self.expression(rule.condition, scope.root, rule)}:")
            indent += 1
        if rule.child is not None:
            self.child_rule(indent, rule, scope)
            return
        out, key = scope.target(rule.label, _parts(rule.target.split("[].", 1)[-1]))
        write = f"{out}[{key!r}] = "
        if rule.constant:
            self.context = ("constant", rule, None, scope.list_info)
            self.emit(indent, write + self.name("C", rule.constant_value))
            return
        known_text = False
        if rule.expression:
            self.context = ("expression", rule, None, scope.list_info)
            self.emit(indent, f"v = {self.expression(rule.expression, scope.root, rule)}")
        elif len(sources) > 1:
            self.context = ("source", rule, None, scope.list_info)
            self.emit(indent, "p = []")
            for source in sources:
                self.emit(indent, f"w = {self.source(scope, source)}")
                self.emit(indent, "if w is not None:")
                self.emit(indent + 1, "w = w.strip() if w.__class__ is str else _TEXT(w).strip()")
                self.emit(indent + 1, "if w: p.append(w)")
            self.emit(indent, f"v = {self.name('SEP', rule.separator)}.join(p) if p else None")
            known_text = True
        elif sources:
            self.context = ("source", rule, None, scope.list_info)
            self.emit(indent, f"v = {self.source(scope, sources[0])}")
        else:
            self.emit(indent, "v = None")
        if known_text:
            self.emit(indent, "if v is None:")
        else:
            self.emit(indent, "if v is None or v.__class__ is str and (not v or v.isspace()):")
        if rule.required and not rule.default:
            origin = (f"expression {rule.expression!r} gave nothing" if rule.expression
                      else f"source {rule.data.get('source') or 'none'} is empty")
            message = self.name("REQ", f"rule {rule.label}: required value missing ({origin})")
            if scope.list_info:
                items, element, source = scope.list_info
                self.emit(indent + 1, f"raise _MISSING_AT({message}, {items}, {element}, {source!r})")
            else:
                self.emit(indent + 1, f"raise MappingError({message})")
        elif rule.default:
            self.emit(indent + 1, write + self.name("D", rule.default))
        else:
            self.emit(indent + 1, "pass")
        self.emit(indent, "else:")
        steps = rule.steps
        value = "v"
        for number, step in enumerate(steps):
            self.context = ("transform", rule, step, scope.list_info)
            pre, value, known_text = self.step(step, known_text)
            for line in pre:
                self.emit(indent + 1, line)
            if number < len(steps) - 1:
                self.emit(indent + 1, f"v = {value}")
                value = "v"
        if rule.expression and not known_text:
            if value != "v":
                self.emit(indent + 1, f"v = {value}")  # still the last transform's line
            self.context = ("expression", rule, None, scope.list_info)
            value = "(_OUT(v) if v.__class__ is _Decimal or v.__class__ is list else v)"
        self.emit(indent + 1, write + value)

    def source(self, scope: _Scope, path: str) -> str:
        if path == "":  # the element itself (items[] in a list rule)
            return scope.element
        return scope.read(path)

    def step(self, step: _Step, known_text: bool) -> tuple[list[str], str, bool]:
        """(lines before, expression of v, is the result known to be a text) for one transform."""
        name, argument = step.name, step.argument
        ensure = [] if known_text else ["if v.__class__ is not str: v = _TEXT(v)"]
        if name in ("trim", "upper", "lower", "title") or (name == "unpad" and not argument):
            method = {"trim": "strip", "unpad": "strip"}.get(name, name)
            return ensure, f"v.{method}()", True
        if name == "text" and argument.strip().isdigit():
            return ensure, f"v[:{int(argument)}]", True
        if name == "text" and not argument:
            return ensure, "v", True
        fn = self.name("T", step.fn)
        if name == "integer":
            return [], f"(v if v.__class__ is int else {fn}(v))", False
        if name in ("lookup", "charge"):
            table_name, _, option = (part.strip() for part in argument.partition(","))
            table = self.name("VM", self.value_maps[table_name])
            key = "v" if known_text else "(v if v.__class__ is str else str(v))"
            if option == "keep":
                return [], f"{table}.get({key}, v)", False
            if option.startswith("default="):
                return [], f"{table}.get({key}, {self.name('D', option[len('default='):])})", True
            return [], f"{table}[{key}]", True  # a KeyError is reported by the transform's own message
        if name == "decimal":
            quantum, rounding = transforms._places_and_rounding(argument)
            fast = _fast_decimal(-quantum.as_tuple().exponent, rounding, step.fn)
            return [], f"{self.name('DEC', fast)}(v)", True
        if name == "join":
            return [], f"({fn}(v) if v.__class__ is list else v)", False
        return [], f"{fn}(v)", name in ("date_m3", "pad", "email", "html", "markdown", "richtext", "number")

    # -- lists and children

    def list_group(self, indent: int, scope: _Scope, list_target: str, rules: list[_Rule]):
        """Rules lines[].X <- items[].y: one output element per element of the source list."""
        source = None
        per_rule = []
        for rule in rules:
            relative = []
            for path in rule.sources:
                if "[]" not in path:
                    rule.fail(f"a list target needs a list source like items[].sku, got {path!r}")
                head, _, rest = path.partition("[]")
                rest = rest[1:] if rest.startswith(".") else rest
                if "[]" in rest:
                    rule.fail("only one list level per rule; use a child mapping for lists inside lists")
                if source is not None and head != source[0]:
                    rule.fail(f"{list_target}[] already reads the list {source[0]}[] (rule {source[1]}), not {head}[]")
                source = source or (head, rule.label)
                relative.append(rest)
            per_rule.append((rule, relative))
        if source is None:
            raise MappingError(f"rules {list_target}[]...: no rule says which list to read "
                               f"(e.g. {list_target}[].ITNO <- items[].sku)")
        self.context = ("source", rules[0], None, scope.list_info)
        items, element, view, rows, row = (self.var(p) for p in ("l", "e", "r", "rows", "row"))
        self.emit(indent, f"{items} = {scope.read(source[0])}")
        self.emit(indent, f"if {items} is None: {items} = _EL")
        self.emit(indent, f"elif {items}.__class__ is not list:")
        message = self.name("LIST", f"{source[0]} should be a list, got ")
        self.emit(indent + 1, f"raise MappingError({message} + type({items}).__name__)")
        self.emit(indent, f"{rows} = []")
        self.emit(indent, f"for {element} in {items}:")
        self.emit(indent + 1, f"{view} = {element} if {element}.__class__ is dict else _E")
        self.emit(indent + 1, f"{row} = {{}}")
        inner = _Scope(self, view, element, row, len(self.lines), list_info=(items, element, source[0]))
        for rule, relative in per_rule:
            self.rule(indent + 1, rule, inner, relative)
        inner.close(indent + 1)
        self.emit(indent + 1, f"{rows}.append({row})")
        out, key = scope.target(rules[0].label, _parts(list_target))
        self.emit(indent, f"{out}[{key!r}] = {rows}")

    def child_rule(self, indent: int, rule: _Rule, scope: _Scope):
        self.context = ("source", rule, None, scope.list_info)
        is_list = rule.target.endswith("[]")
        source = rule.sources[0][:-2] if is_list else rule.sources[0]
        child = compile_snapshot(rule.child, f"{rule.label}", value_maps=self.value_maps, is_child=True)
        self.children.append(child)
        fn = self.name("CHILD", child)
        out, key = scope.target(rule.label, _parts(rule.target[:-2] if is_list else rule.target))
        value, element, rows = self.var("c"), self.var("ce"), self.var("crows")
        self.emit(indent, f"{value} = {scope.read(source)}")
        empty = f"{value} is None or {value} == []" if is_list else f"{value} is None or {value} == {{}}"
        self.emit(indent, f"if {empty}:")
        if rule.required:
            message = self.name("REQ", f"rule {rule.label}: required value missing ({source} is empty)")
            self.emit(indent + 1, f"raise MappingError({message})")
        elif is_list:
            self.emit(indent + 1, f"{out}[{key!r}] = []")
        else:
            self.emit(indent + 1, "pass")
        if is_list:
            self.emit(indent, f"elif {value}.__class__ is not list:")
            message = self.name("LIST", f"rule {rule.label}: {source} should be a list, got ")
            self.emit(indent + 1, f"raise MappingError({message} + type({value}).__name__)")
            self.emit(indent, "else:")
            self.context = ("child", rule, (value, element), scope.list_info)
            self.emit(indent + 1, f"{rows} = []")
            self.emit(indent + 1, f"for {element} in {value}: {rows}.append({fn}({element}))")
            self.emit(indent + 1, f"{out}[{key!r}] = {rows}")
        else:
            self.emit(indent, "else:")
            self.context = ("child", rule, None, scope.list_info)
            self.emit(indent + 1, f"{out}[{key!r}] = {fn}({value})")

    def source_text(self) -> str:
        return "\n".join(text for text, _ in self.lines)


def _fast_decimal(places: int, rounding: str, fn):
    """decimal:N without Decimal maths for the usual JSON number: a float whose shortest repr has at
    most N decimals (19.99) or an int is only padded with zeros, which is exactly what quantizing the
    Decimal of that repr gives; a Decimal (from an expression) is quantized directly; anything else
    (rounding needed, exponents, texts) goes to ``fn``, the transform itself."""
    zeros = ["0" * n for n in range(places + 1)]
    whole_suffix = "." + "0" * places if places else ""
    quantum = Decimal(1).scaleb(-places)

    def to_decimal(v):
        if v.__class__ is float:
            text = repr(v)
            point = text.find(".")
            if point > 0 and "e" not in text:
                decimals = len(text) - point - 1
                if decimals <= places:
                    return text + zeros[places - decimals]
        elif v.__class__ is int:
            return str(v) + whole_suffix
        elif v.__class__ is Decimal and v.is_finite():  # an expression's result
            try:
                return str(v.quantize(quantum, rounding=rounding))
            except ArithmeticError:
                pass  # too large for the places: fn says so
        return fn(v)
    return to_decimal


def _missing_at(message: str, items: list, element, source: str) -> MappingError:
    index = next((i for i, e in enumerate(items) if e is element), "?")
    return MappingError(f"{message} at {source}[{index}]")


def _describe_failure(where: dict, exc: Exception, local_vars: dict) -> Exception:
    """The MappingError for an exception raised at some line of the generated function."""
    tb = exc.__traceback__
    context = where.get(tb.tb_lineno) if tb is not None else None
    if context is None:
        return exc if isinstance(exc, MappingError) else MappingError(f"{type(exc).__name__}: {exc}")
    kind, rule, detail, list_info = context
    at = ""
    if list_info is not None:  # inside a list loop: which element
        items, element = local_vars.get(list_info[0]) or (), local_vars.get(list_info[1])
        index = next((i for i, e in enumerate(items) if e is element), None)
        if index is not None:
            at = f" at {list_info[2]}[{index}]"
    if kind == "child":
        if not isinstance(exc, MappingError):
            return MappingError(f"rule {rule.label}{at}: child mapping failed: {type(exc).__name__}: {exc}")
        if detail is None:
            return MappingError(f"rule {rule.label}{at}: {exc}")
        items, element = (local_vars.get(name) for name in detail)
        index = next((i for i, e in enumerate(items or ()) if e is element), "?")
        source = rule.sources[0][:-2]
        return MappingError(f"rule {rule.label}{at} at {source}[{index}]: {exc}")
    if isinstance(exc, MappingError):
        return exc
    reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
    if kind == "transform":
        value = local_vars.get("v")
        if not isinstance(exc, transforms.TransformError):
            try:  # inline code failed: the transform itself says why, in its own words
                detail.fn(value)
            except Exception as own:  # noqa: BLE001
                reason = str(own) if isinstance(own, ValueError) else f"{type(own).__name__}: {own}"
        return MappingError(f"rule {rule.label}: transform '{detail.name}' failed on {_short(value)}{at}: {reason}")
    if kind in ("condition", "expression"):
        text = rule.condition if kind == "condition" else rule.expression
        return MappingError(f"rule {rule.label}: {kind} {text!r} failed{at}: {reason}")
    return MappingError(f"rule {rule.label}: failed{at}: {reason}")


def _resolve_schema(snapshot: dict, schema):
    """(schema dict, its name) to validate against, or (None, '')."""
    if schema is None:
        schema = snapshot.get("target_schema") or None
    if schema is None:
        return None, ""
    if isinstance(schema, dict):
        return schema, schema.get("label") or "schema"
    try:
        return schemas.get(schema), schema
    except KeyError as exc:
        raise MappingError(f"target schema: {exc.args[0]}") from None


def _target_labels(rules: list[dict], prefix: str = "") -> dict[str, str]:
    """Full output path (as a schema writes it: lines[].ITNO, and lines for the list) -> the rule writing it."""
    labels = {}
    for data in rules:
        target = (data.get("target") or "").strip()
        if data.get("child"):
            inner = _target_labels(data["child"].get("rules") or [], f"{prefix}{target}.")
            labels.update({path: f"{_label(data)} / {label}" for path, label in inner.items()})
        labels.setdefault(prefix + target, _label(data))
        if "[]" in target:  # the list itself: its child rule, or the first lines[].X rule
            labels.setdefault(prefix + target.split("[]", 1)[0], _label(data))
    return labels


def _writers(rules: list[dict], prefix: str = "") -> dict[str, list[dict]]:
    """Full output path -> the snapshot rules writing it (children's included)."""
    found: dict[str, list[dict]] = {}
    for data in rules:
        target = (data.get("target") or "").strip()
        if data.get("child"):
            for path, inner in _writers(data["child"].get("rules") or [], f"{prefix}{target}.").items():
                found.setdefault(path, []).extend(inner)
        found.setdefault(prefix + target, []).append(data)
    return found


def _decimal_text(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except ArithmeticError:
        return False


def _without_proven_checks(schema: dict, rules: list[dict]) -> dict:
    """The schema with the checks the rules already guarantee relaxed, so they cost nothing per record.

    A "decimal" field whose every rule ends with the decimal transform (and whose default, if any,
    is a number) always holds a decimal text: it is checked as a text (required and length stay)."""
    writers = _writers(rules)
    fields = {}
    for path, spec in schema["fields"].items():
        rules_here = writers.get(path, [])
        proven = spec.get("type") == "decimal" and rules_here and all(
            (transforms.parse_chain(data.get("transforms") or "") or [("", "")])[-1][0] == "decimal"
            and (not data.get("default") or _decimal_text(data["default"])) for data in rules_here)
        fields[path] = {**spec, "type": "string"} if proven else spec
    return {**schema, "fields": fields}


def _invalid(schema_name: str, labels: dict, problems: list) -> MappingError:
    messages = []
    for problem in problems[:_MAX_PROBLEMS]:
        rule = labels.get(problem.path)
        where = rule if rule else f"{problem.path} (no rule writes it)"
        if problem.at and problem.at != problem.path:
            where += f" at {problem.at}"
        shown = "" if problem.value is None or problem.value == "" else f"{_short(problem.value)} "
        messages.append(f"{where}: {shown}{problem.message}")
    more = f"; and {len(problems) - _MAX_PROBLEMS} more" if len(problems) > _MAX_PROBLEMS else ""
    return MappingError(f"{'; '.join(messages)}{more} ({schema_name})")


def compile_snapshot(snapshot: dict, label: str = "draft", *, schema=None, value_maps: dict | None = None,
                     is_child: bool = False):
    """Generate and compile the function record -> output dict for a mapping snapshot.

    ``schema`` overrides the snapshot's ``target_schema`` (a name in mappings/schemas.py or a
    schema dict, e.g. in tests); ``value_maps`` is given to child snapshots by their parent.
    The function's ``source`` attribute is the generated Python (children's included)."""
    value_maps = value_maps if value_maps is not None else (snapshot.get("value_maps") or {})
    context = transforms.Context(value_maps=value_maps)
    rules = [_Rule(data, context) for data in snapshot.get("rules") or []]
    target_schema, schema_name = _resolve_schema(snapshot, schema)

    gen = _Generator(value_maps)
    gen.emit(0, "def run(record):")
    gen.emit(1, "if record.__class__ is not dict:")
    if is_child:
        gen.emit(2, "record = {'value': record}")
    else:
        gen.emit(2, "raise MappingError('the record should be a JSON object, got ' + type(record).__name__)")
    gen.emit(1, "out = {}")
    gen.emit(1, "try:")
    scope = _Scope(gen, "record", "record", "out", len(gen.lines))
    groups: dict[str, list[_Rule]] = {}
    order: list = []
    for rule in rules:
        if "[]." in rule.target and rule.child is None:
            list_target = rule.target.split("[].", 1)[0]
            if list_target not in groups:
                groups[list_target] = []
                order.append(("list", list_target))
            groups[list_target].append(rule)
        else:
            order.append(("rule", rule))
    gen.emit(2, "pass")  # a mapping may have no rules yet
    for kind, item in order:
        if kind == "list":
            gen.list_group(2, scope, item, groups[item])
        else:
            gen.rule(2, item, scope, item.sources)
    gen.context = None
    scope.close(2)
    gen.emit(1, "except Exception as exc:")
    gen.emit(2, "raise _FAIL(exc, locals()) from None")
    if target_schema is not None:
        try:
            relaxed = _without_proven_checks(target_schema, snapshot.get("rules") or [])
            gen.namespace["_VALIDATE"] = schemas.validator(relaxed)
        except ValueError as exc:
            raise MappingError(f"target schema {schema_name}: {exc}") from None
        gen.namespace["_INVALID"] = functools.partial(_invalid, schema_name, _target_labels(snapshot.get("rules") or []))
        gen.emit(1, "problems = _VALIDATE(out)")
        gen.emit(1, "if problems: raise _INVALID(problems)")
    gen.emit(1, "return out")

    where = {number: context for number, (_, context) in enumerate(gen.lines, 1) if context is not None}
    gen.namespace["_FAIL"] = functools.partial(_describe_failure, where)
    source = gen.source_text()
    code = compile(source, f"<mapping {label}>", "exec")
    exec(code, gen.namespace)  # noqa: S102 - source written above from repr()'d names and checked expressions only
    run = gen.namespace["run"]
    run.source = "\n\n".join([source, *(child.source for child in gen.children)])
    return run


_compiled: dict[tuple, object] = {}


def _compiled_version(version: MappingVersion, mapping: Mapping):
    # Versions are immutable; created_at too because ids can come back (a restored database, tests rolled back).
    key = (version.pk, version.created_at)
    fn = _compiled.get(key)
    if fn is None:
        if version.mapping_id == mapping.pk:
            version.mapping = mapping  # its label names the mapping, which the caller has: no query for it
        fn = _compiled[key] = compile_snapshot(version.snapshot, str(version))
    return fn


def compiled(mapping: Mapping):
    """The function of the mapping's published version (what flows run)."""
    if not mapping.published_id:
        raise MappingError(f"mapping '{mapping}' has no published version yet; publish it in the admin")
    return _compiled_version(mapping.published, mapping)


def compiled_version(mapping: Mapping, number: int):
    """The function of one version of the mapping (replay against a chosen version)."""
    version = MappingVersion.objects.filter(mapping=mapping, number=number).first()
    if version is None:
        raise MappingError(f"mapping '{mapping}' has no version {number}")
    return _compiled_version(version, mapping)
