"""Suggested mapping rules: score every (target, source) field pair, then keep a one-to-one
assignment above a confidence threshold.

A pair's score starts from what the names say (a concept both are known by, the same words, or
similar spelling), is scaled by whether the source's values suit the target's type and by the
structure (a line field from a line field), and is raised by shared sample values and by what an
integrator accepted before. Each suggestion says in one line why it was made.
"""

import re
from dataclasses import dataclass

from . import names as N
from . import values as V

DEFAULT_THRESHOLD = 0.45
ACCEPTED_SCORE = 0.98


@dataclass
class Suggestion:
    """One proposed rule: ``target <- source``, with its transforms, a confidence and why."""

    target: str
    source: str
    confidence: float
    reason: str
    transforms: str = ""  # a mappings.transforms chain: "trim | text:15", "date:unix>m3"


@dataclass
class _Field:
    path: str
    spec: dict
    name: N.FieldName
    concepts: tuple
    depth: int
    values: list
    kind: str
    container: bool  # a list or object whose parts are fields of their own (items, billingAddress)


SYSTEMS = [("m3", "M3's"), ("infor", "M3's"), ("x-cart", "X-Cart's"), ("xcart", "X-Cart's"), ("prestashop", "PrestaShop's"),
           ("domino", "Domino's"), ("notes", "Domino's"), ("schema.org", "schema.org's")]


def _system(schema: dict, fallback: str) -> str:
    label = (schema.get("label") or "").lower()
    for key, name in SYSTEMS:
        if key in label:
            return name
    words = (schema.get("label") or "").split()
    return f"{words[0]}'s" if words else fallback


def _fields(schema: dict, samples) -> list[_Field]:
    entity = schema.get("label", "")
    fields = []
    paths = list(schema.get("fields") or {})
    for path, spec in (schema.get("fields") or {}).items():
        name = N.field_name(path, spec.get("label", ""), entity)
        values = [v for record in samples or () for v in V.values_at(record, path)]
        declared = spec.get("type", "string")
        kind = V.infer_kind(values, declared) if values else V.TYPE_FAMILY.get(declared, "text")
        container = any(other.startswith(path + ".") or other.startswith(path + "[].") for other in paths)
        fields.append(_Field(path, spec, name, N.concepts(name), path.count("[]"), values, kind, container))
    return fields


def _leaf(path: str) -> str:
    return path.split(".")[-1].replace("[]", "")


def _name_score(source: _Field, target: _Field, s_sys: str, t_sys: str) -> tuple[float, str]:
    """How much the two names say they are the same thing, and the reason."""
    s_leaf, t_leaf = _leaf(source.path), _leaf(target.path)
    shared = [c for c in target.concepts if c in source.concepts]
    if shared:
        words = shared[0].words.removeprefix("the ")
        if source.name.leaf == target.name.leaf and not (source.name.is_m3_code or target.name.is_m3_code):
            return 0.95, f"{s_leaf} and {t_leaf}: same name ({words})"
        return 0.9, f"{t_leaf} is {t_sys} {words}, {s_leaf} {s_sys}: synonyms"
    weaker = [c for c in target.concepts + N.weaker_concepts(target.name)
              if c in source.concepts + N.weaker_concepts(source.name)]
    if weaker:
        words = weaker[0].words.removeprefix("the ")
        return 0.7, f"{t_leaf} and {s_leaf} can both be {words}: synonyms in this context"
    words = max(N.words_similarity(source.name.leaf, target.name.leaf),
                N.words_similarity(source.name.leaf, target.name.label) if target.name.label else 0.0,
                N.words_similarity(source.name.label, target.name.label) if source.name.label and target.name.label else 0.0)
    spelling = N.string_similarity(s_leaf, t_leaf) if not (source.name.is_m3_code or target.name.is_m3_code) else 0.0
    if spelling < 0.8:  # only near-identical spellings (zipCode, zip_code); a shared suffix is not a match
        spelling = 0.0
    score = max(words * 0.85, spelling * 0.8)
    if source.concepts and target.concepts:
        score *= 0.5  # both known, and known to mean different things
    if N.is_identifier(source.name) != N.is_identifier(target.name) and not (
            N.identifier_like(source.name) and N.identifier_like(target.name)):
        score *= 0.6  # id_customer is a key, CustomerName a name
    if score >= 0.8:
        return score, f"{s_leaf} and {t_leaf}: same words"
    return score, f"{s_leaf} ~ {t_leaf}: similar names"


def _context_bonus(source: _Field, target: _Field) -> float:
    """Parents that agree (billingAddress.city and customer.TOWN are both about the customer)."""
    s_parents, t_parents = set(source.name.parents), set(target.name.parents)
    if not s_parents and not t_parents:
        return 0.02
    groups = [{"customer", "billing", "address", "profile", "buyer", "person", "contact"}, {"line", "item", "row"}, {"order", "head"}]
    for group in groups:
        if s_parents & group and t_parents & group:
            return 0.05
    return 0.0


def _score(source: _Field, target: _Field, s_sys: str, t_sys: str, target_values: list | None) -> tuple[float, str]:
    score, reason = _name_score(source, target, s_sys, t_sys)
    shared_concept = next((c for c in target.concepts if c in source.concepts), None)
    score += _context_bonus(source, target)
    fit = V.fit(target.spec.get("type", "string"), source.kind)
    score *= 0.5 + 0.5 * fit
    if fit >= 1.0 and source.kind in V.SPECIFIC:
        score += 0.05
    if target.depth > source.depth:
        score *= 0.6  # one head value repeated on every line: rarely what is meant
    elif source.depth > target.depth:
        score *= 0.8  # the first of a list for a head field (a profile's first address)
    if shared_concept is None and len(source.values) >= 2 and len({V.canonical(v) for v in source.values}) == 1:
        score *= 0.8  # the same in every sample (a form or type marker, a company code): weak evidence
    if shared_concept is None and _leaf(source.path).startswith("@"):
        score *= 0.7  # record metadata (JSON-LD @type, Notes @unid), rarely business data
    if target_values is not None:
        shared = V.overlap(source.values, target_values)
        if shared >= 0.5 and fit >= 0.5:
            if score < 0.5:
                score = max(score, 0.3 + 0.35 * shared * fit)
                reason = f"{_leaf(source.path)} and {_leaf(target.path)}: the same sample values ({shared:.0%})"
            else:
                score += 0.1 * shared
                reason += f"; {shared:.0%} of the values shared"
    return min(score, 1.0), reason


def suggest(source_schema: dict, target_schema: dict, samples: list[dict] | None = None,
            accepted=(), rejected=(), target_samples: list[dict] | None = None,
            threshold: float = DEFAULT_THRESHOLD) -> list[Suggestion]:
    """Propose ``target <- source`` rules, one source per target and one target per source.

    ``samples`` are source records, ``target_samples`` (optional) records of the target system,
    both used for value kinds and overlap. ``accepted`` and ``rejected`` are (target, source)
    pairs an integrator decided on before in this installation: an accepted pair is proposed again
    with a high confidence, a rejected one never.
    """
    sources = _fields(source_schema, samples)
    targets = _fields(target_schema, target_samples)
    s_sys = _system(source_schema, "the source's")
    t_sys = _system(target_schema, "the target's")
    accepted = {(target, _schema_path(source)) for target, source in accepted}
    rejected = {(target, _schema_path(source)) for target, source in rejected}
    accepted_leaves = {(_leaf(t), _leaf(s)) for t, s in accepted}

    candidates = []
    for target in targets:
        for source in sources:
            pair = (target.path, source.path)
            if pair in rejected or (pair not in accepted and N.system_assigned(target.name, target.path)):
                continue
            if target.container != source.container:  # a list of lines is no address line
                continue
            if pair in accepted:
                score, reason = ACCEPTED_SCORE, f"{_leaf(target.path)} <- {_leaf(source.path)} was accepted before in this installation"
            else:
                score, reason = _score(source, target, s_sys, t_sys, target.values if target_samples is not None else None)
                if (_leaf(target.path), _leaf(source.path)) in accepted_leaves:
                    score, reason = min(score + 0.15, 0.97), reason + "; accepted before for another entity"
            candidates.append((score, target, source, reason))

    candidates.sort(key=lambda c: (-c[0], c[1].path, c[2].path))
    used_targets, used_sources, chosen = set(), set(), []
    for score, target, source, reason in candidates:
        if score < threshold:
            break
        if target.path in used_targets or source.path in used_sources:
            continue
        used_targets.add(target.path)
        used_sources.add(source.path)
        map_name = f"{_leaf(source.path)}-to-{_leaf(target.path)}".lower().replace("_", "-").lstrip("@")
        steps = V.transforms_for(source.kind, source.spec, target.spec, source.values, map_name)
        chosen.append(Suggestion(target.path, _engine_source(source, target), round(score, 3), reason, " | ".join(steps)))
    order = list((target_schema.get("fields") or {}))
    chosen.sort(key=lambda s: order.index(s.target))
    return chosen


def _engine_source(source: _Field, target: _Field) -> str:
    """The rule's source path: a list field feeding a head field reads the list's first element,
    as the engine spells it (addresses[].street -> addresses.0.street)."""
    path = source.path
    for _ in range(source.depth - target.depth):
        path = path.replace("[]", ".0", 1)
    return path


def _schema_path(path: str) -> str:
    """A rule's source as the schema spells it: addresses.0.street -> addresses[].street."""
    return re.sub(r"\.\d+(?=\.|$)", "[]", path)
