"""Which side wins, field by field, when the hub updates a record someone also changed in the target.

A flow's ``conflict_policy`` is ``{"default": "source" | "target", "fields": {"Status": "target", ...}}``.
Where the source wins (the default), the hub writes what the mapping made. Where the target wins, the
hub leaves the target's value alone when it differs from what the hub last wrote there (``HubWrite``):
a person changed it in the target since, and that change is kept. A field the hub never wrote that
already has a value in the target is the target's own, and is kept too.
"""

from hub.models import Flow, HubWrite, _norm


def winner(flow: Flow, field: str) -> str:
    policy = flow.conflict_policy or {}
    return (policy.get("fields") or {}).get(field) or policy.get("default") or "source"


def target_may_win(flow: Flow) -> bool:
    """Whether the policy lets the target win any field (else the hub writes everything, as always)."""
    policy = flow.conflict_policy or {}
    return policy.get("default") == "target" or "target" in (policy.get("fields") or {}).values()


def resolve(flow: Flow, mapped: dict, current: dict, last_written: dict | None) -> dict:
    """``mapped`` without the fields where the target wins and the target's value (in ``current``, the
    record as it is now) was changed since the hub last wrote it (``last_written``)."""
    last_written = last_written or {}
    kept = {}
    for field, value in mapped.items():
        if winner(flow, field) != "target" or field not in current:
            continue
        now = current[field]
        if field in last_written:
            changed_there = _comparable(now) != _comparable(last_written[field])
        else:
            changed_there = now not in (None, "", [], {})
        if changed_there:
            kept[field] = now
    return {field: value for field, value in mapped.items() if field not in kept}


def _comparable(value) -> str:
    if isinstance(value, list):
        return "\x1f".join(_comparable(v) for v in value)
    if isinstance(value, dict):  # typed items (DAS strongtype dates, rich text): their data
        return _comparable(value.get("data", value.get("content", str(sorted(value.items())))))
    return _norm(value) if value is not None else ""


def keeper(flow: Flow):
    """What the hub hands a target connector for one flow's updates: a function
    ``(entity, record_id, items, current) -> items`` the connector calls with the record as it is now,
    or None when the source wins every field (nothing to look up)."""
    if not flow.conflict_policy or not target_may_win(flow):
        return None

    def keep_target_fields(entity: str, record_id: str, items: dict, current: dict) -> dict:
        write = HubWrite.objects.filter(connection_id=flow.target_id, entity=entity, record_id=record_id).first()
        return resolve(flow, items, current, write.fields if write else None)

    return keep_target_fields
