"""Value maps as CSV: ``source,target`` per line, so a lookup table can be kept in a spreadsheet.

Import is all or nothing: a file with a bad line changes nothing and says which lines are bad, so
a half-read file can never replace a working table. ``replace`` makes the table exactly the file;
``merge`` adds and updates, keeping entries the file does not mention.
"""

import csv
import io
from dataclasses import dataclass, field

from django.db import transaction

from mappings.models import ValueMap, ValueMapEntry

HEADERS = ({"source", "target"}, {"source_value", "target_value"})
MAX_LENGTH = ValueMapEntry._meta.get_field("source_value").max_length


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, why)

    @property
    def ok(self):
        return not self.bad_lines

    def __str__(self):
        if self.bad_lines:
            return f"{len(self.bad_lines)} bad line(s); nothing was imported"
        return f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, {self.removed} removed"


def export_csv(value_map: ValueMap) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["source", "target"])
    for source, target in value_map.entries.order_by("source_value").values_list("source_value", "target_value"):
        writer.writerow([source, target])
    return out.getvalue()


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")  # spreadsheets often start UTF-8 files with a BOM
    except UnicodeDecodeError:
        raise ValueError("the file is not UTF-8 text; save it as 'CSV UTF-8'") from None


def _delimiter(text: str) -> str:
    """Comma, unless the first line has none but a semicolon or a tab (European spreadsheets)."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    return next((d for d in (",", ";", "\t") if d in first), ",")


def parse(data: bytes | str) -> tuple[dict[str, str], list[tuple[int, str]]]:
    """({source: target}, bad lines) of a CSV file; the header line is optional."""
    text = _decode(data)
    entries, bad, first_line = {}, [], {}
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=_delimiter(text)), start=1):
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines are harmless
        if number == 1 and {cell.strip().lower() for cell in row} in HEADERS:
            continue
        if len(row) != 2:
            bad.append((number, f"expected 2 columns (source,target), found {len(row)}"))
            continue
        source, target = row  # kept exactly (padded codes stay padded), so export and import round-trip
        if not source.strip():
            bad.append((number, "the source value is empty"))
        elif len(source) > MAX_LENGTH or len(target) > MAX_LENGTH:
            bad.append((number, f"a value is longer than {MAX_LENGTH} characters"))
        elif source in entries and entries[source] != target:
            bad.append((number, f"source {source!r} is already mapped to {entries[source]!r} on line {first_line[source]}"))
        else:
            entries[source] = target
            first_line.setdefault(source, number)
    return entries, bad


@transaction.atomic
def import_csv(value_map: ValueMap, data: bytes | str, mode: str = "merge") -> ImportReport:
    """Apply a CSV file to the value map (``mode`` "merge" or "replace"); nothing changes if a line is bad."""
    if mode not in ("merge", "replace"):
        raise ValueError(f"unknown import mode {mode!r}")
    try:
        entries, bad = parse(data)
    except ValueError as exc:
        return ImportReport(bad_lines=[(0, str(exc))])
    if bad:
        return ImportReport(bad_lines=bad)
    report = ImportReport()
    # Entries are saved one by one (not bulk) so the audit history records each change.
    existing = {entry.source_value: entry for entry in value_map.entries.all()}
    for source, target in entries.items():
        entry = existing.get(source)
        if entry is None:
            ValueMapEntry.objects.create(value_map=value_map, source_value=source, target_value=target)
            report.added += 1
        elif entry.target_value != target:
            entry.target_value = target
            entry.save(update_fields=["target_value"])
            report.updated += 1
        else:
            report.unchanged += 1
    if mode == "replace":
        for source, entry in existing.items():
            if source not in entries:
                entry.delete()
                report.removed += 1
    return report
