"""Mapping suggestions against Valentine's schema matchers, on the same schema pairs, in one run.

Each pair in ``pairs/`` names a source and a target entity in ``entities/`` (schema with types,
sample records) and lists its gold correspondences, written from the systems' facts
(API-NOTES.md, hub/demo.py), not from any matcher's output. ``partial`` pairs are parts of a
many-to-one rule (first name + last name -> CUNM): a matcher proposing one is neither credited
nor counted wrong.

Every matcher gets the same tables (pandas DataFrames built from the samples, one row per list
element with the head repeated), is reduced to one-to-one matches (Valentine's Hungarian
selection; our suggester makes its own), and is scored at the threshold that gives it its best
micro-averaged F1 over all pairs. Run: ``.venv/bin/python bench/suggest/run_suggest.py``.
"""

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from mappings.suggest import DEFAULT_THRESHOLD, suggest  # noqa: E402
from mappings.suggest.values import values_at  # noqa: E402

RESULTS = HERE / "RESULTS.md"
WORDNET = Path("/usr/share/wordnet")  # Debian's wordnet-base and wordnet-sense-index
# lexnames(5WN): the 45 lexicographer files, in WordNet's order; Debian's package leaves the file out.
LEXNAMES = ("adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
            "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
            "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
            "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
            "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
            "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather adj.ppl").split()
# NLTK's English stop word list, which Cupid and Coma's instance matcher remove from names and values.
STOPWORDS = """i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him
his himself she she's her hers herself it it's its itself they them their theirs themselves what which who whom this that
that'll these those am is are was were be been being have has had having do does did doing a an the and but if or because
as until while of at by for with about against between into through during before after above below to from up down in
out on off over under again further then once here there when where why how all any both each few more most other some
such no nor not only own same so than too very s t can will just don don't should should've now d ll m o re ve y ain aren
aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn mightn't mustn
mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't""".split()


def load_pairs() -> list[dict]:
    """Every pair with its source and target entity loaded."""
    pairs = []
    for path in sorted((HERE / "pairs").glob("*.json")):
        pair = json.loads(path.read_text())
        pair["name"] = path.stem
        pair["source_entity"] = json.loads((HERE / "entities" / f"{pair['source']}.json").read_text())
        pair["target_entity"] = json.loads((HERE / "entities" / f"{pair['target']}.json").read_text())
        pairs.append(pair)
    return pairs


def frame(entity: dict):
    """The entity's samples as a table: a column per field path, a row per list element."""
    import pandas as pd

    columns = list(entity["fields"])
    rows = []
    for record in entity["samples"]:
        values = {column: values_at(record, column) for column in columns}
        height = max([len(v) for c, v in values.items() if "[]" in c] or [1]) or 1
        for i in range(height):
            row = {}
            for column, found in values.items():
                value = (found[i] if i < len(found) else None) if "[]" in column else (found[0] if found else None)
                row[column] = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
            rows.append(row)
    return pd.DataFrame(rows, columns=columns).astype(object)


def offline_nltk(data_dir: Path) -> str:
    """Give Valentine's Cupid and Coma the NLTK data they would download, from Debian's WordNet,
    and stop them downloading. Returns why that is impossible, or ""."""
    import nltk
    import valentine.algorithms.coma.similarity.tfidf as coma_tfidf
    import valentine.algorithms.cupid.linguistic_matching as cupid_linguistic
    import valentine.utils.utils as valentine_utils

    def ensure_nltk_data():
        if str(data_dir) not in nltk.data.path:
            nltk.data.path.insert(0, str(data_dir))

    valentine_utils.ensure_nltk_data = cupid_linguistic._ensure_nltk_data = coma_tfidf.ensure_nltk_data = ensure_nltk_data
    if not getattr(nltk.word_tokenize, "_one_line", False):
        # names are one "sentence": tokenising without the Punkt sentence splitter gives the same tokens
        tokenize = nltk.word_tokenize

        def word_tokenize(text, language="english", preserve_line=True):
            return tokenize(text, language=language, preserve_line=True)

        word_tokenize._one_line = True
        nltk.word_tokenize = word_tokenize
    stopwords = data_dir / "corpora" / "stopwords"
    stopwords.mkdir(parents=True, exist_ok=True)
    (stopwords / "english").write_text("\n".join(STOPWORDS) + "\n")
    ensure_nltk_data()
    if not (WORDNET / "data.noun").exists() or not (WORDNET / "index.sense").exists():
        return "needs Debian's wordnet-base and wordnet-sense-index (apt-get install wordnet-base wordnet-sense-index)"
    wordnet = data_dir / "corpora" / "wordnet"
    wordnet.mkdir(parents=True, exist_ok=True)
    for path in WORDNET.iterdir():
        if path.is_file():  # copies: NLTK refuses symlinks that leave its data folder
            shutil.copyfile(path, wordnet / path.name)
    pos = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
    (wordnet / "lexnames").write_text("".join(f"{i:02d}\t{name}\t{pos[name.split('.')[0]]}\n" for i, name in enumerate(LEXNAMES)))
    return ""


def valentine_matchers():
    """Every matcher the installed Valentine offers, with its defaults (Coma also with instances)."""
    from valentine.algorithms import Coma, Cupid, DistributionBased, JaccardDistanceMatcher, SimilarityFlooding

    return [
        ("Valentine Coma (schema)", lambda: Coma(use_schema=True, use_instances=False)),
        ("Valentine Coma (schema + instances)", lambda: Coma(use_schema=True, use_instances=True)),
        ("Valentine Cupid", Cupid),
        ("Valentine SimilarityFlooding", SimilarityFlooding),
        ("Valentine DistributionBased", DistributionBased),
        ("Valentine JaccardDistanceMatcher", JaccardDistanceMatcher),
    ]


def run_valentine(factory, pair: dict) -> list[tuple]:
    """(source, target, score) of the matcher's one-to-one matches on this pair."""
    from valentine import valentine_match

    source, target = frame(pair["source_entity"]), frame(pair["target_entity"])
    results = valentine_match([source, target], factory(), df_names=["source", "target"])
    found = []
    for match, score in results.one_to_one_hungarian(threshold=0.0).items():
        if match.source_table == "target":
            found.append((match.target_column, match.source_column, float(score)))
        else:
            found.append((match.source_column, match.target_column, float(score)))
    return found


def run_ours(pair: dict, samples: str = "both", labels: bool = True) -> list[tuple]:
    """(source, target, confidence) of every suggestion (threshold 0: the sweep decides)."""
    source, target = pair["source_entity"], pair["target_entity"]
    if not labels:
        source, target = _without_labels(source), _without_labels(target)
    suggestions = suggest(source, target, samples=source["samples"] if samples != "none" else None,
                          target_samples=target["samples"] if samples == "both" else None, threshold=0.0)
    # a head field fed from a list reads its first element (addresses.0.street): the schema path is addresses[].street
    return [(s.source.replace(".0.", "[]."), s.target, s.confidence) for s in suggestions]


def _without_labels(entity: dict) -> dict:
    fields = {path: {k: v for k, v in spec.items() if k != "label"} for path, spec in entity["fields"].items()}
    return {**entity, "label": "", "fields": fields}


def counts(found: list[tuple], pair: dict, threshold: float) -> tuple[int, int, int]:
    gold = {tuple(p) for p in pair["gold"]}
    partial = {tuple(p) for p in pair.get("partial", ())}
    predicted = {(s, t) for s, t, score in found if score >= threshold}
    return len(predicted & gold), len(predicted - gold - partial), len(gold - predicted)


def f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


def best_threshold(found_by_pair: dict, pairs: list[dict]) -> float:
    """The threshold at which this matcher's micro F1 over all pairs is highest (lowest on ties)."""
    candidates = sorted({0.0} | {score for found in found_by_pair.values() for _, _, score in found})
    best, best_f1 = 0.0, -1.0
    for threshold in candidates:
        total = [sum(x) for x in zip(*(counts(found_by_pair[p["name"]], p, threshold) for p in pairs))]
        score = f1(*total)[2]
        if score > best_f1 + 1e-12:
            best, best_f1 = threshold, score
    return best


def evaluate() -> dict:
    """Run every matcher on every pair: {"rows": summary rows, "pairs": names, "errors": ...}."""
    pairs = load_pairs()
    contenders = [  # (name, run, fixed threshold or None for the best one)
        ("hub suggester (source + target samples)", lambda p: run_ours(p, "both"), None),
        ("hub suggester (source samples only)", lambda p: run_ours(p, "source"), None),
        (f"hub suggester (source samples, its default threshold {DEFAULT_THRESHOLD})", lambda p: run_ours(p, "source"),
         DEFAULT_THRESHOLD),
        ("hub suggester (names only: no samples, no labels)", lambda p: run_ours(p, "none", labels=False), None),
    ]
    notes = {}
    data_dir = Path(tempfile.mkdtemp(prefix="suggest-nltk-"))
    try:
        try:
            missing = offline_nltk(data_dir)
        except ImportError as error:  # valentine not installed: report ours alone
            missing, notes["Valentine"] = "valentine", f"not installed ({error})"
        if "valentine" not in notes:
            for name, factory in valentine_matchers():
                if missing and ("Cupid" in name):
                    notes[name] = f"skipped: {missing}"
                    continue
                contenders.append((name, lambda p, factory=factory: run_valentine(factory, p), None))
        rows = []
        for name, run, fixed in contenders:
            started = time.perf_counter()
            found_by_pair, errors = {}, []
            for pair in pairs:
                try:
                    found_by_pair[pair["name"]] = run(pair)
                except Exception as error:  # a matcher that fails on a pair finds nothing there
                    found_by_pair[pair["name"]] = []
                    errors.append(f"{pair['name']}: {type(error).__name__}: {error}"[:200])
            seconds = time.perf_counter() - started
            threshold = best_threshold(found_by_pair, pairs) if fixed is None else fixed
            per_pair = {p["name"]: counts(found_by_pair[p["name"]], p, threshold) for p in pairs}
            tp, fp, fn = (sum(x) for x in zip(*per_pair.values()))
            precision, recall, f = f1(tp, fp, fn)
            rows.append({"matcher": name, "threshold": threshold, "precision": precision, "recall": recall, "f1": f,
                         "tp": tp, "fp": fp, "fn": fn, "seconds": seconds,
                         "per_pair": {n: f1(*c)[2] for n, c in per_pair.items()}, "errors": errors})
            if errors:
                notes[name] = "; ".join(errors)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    return {"rows": rows, "pairs": [p["name"] for p in pairs], "notes": notes,
            "gold": sum(len(p["gold"]) for p in pairs)}


def rows() -> list[dict]:
    """The summary rows (matcher, threshold, precision, recall, f1, tp, fp, fn, seconds, per_pair)."""
    return evaluate()["rows"]


def markdown(result: dict | None = None) -> str:
    """The comparison as a Markdown section, for bench/RESULTS.md."""
    result = result or evaluate()
    rows_, pairs = result["rows"], result["pairs"]
    lines = [
        "## Mapping suggestions against Valentine",
        "",
        f"{len(pairs)} schema pairs, {result['gold']} gold correspondences (bench/suggest/pairs). One-to-one matches, "
        "each matcher at the threshold that gives it its best micro-averaged F1 over all pairs (ours also at the "
        "threshold the admin uses). Valentine sees column names and the source and target samples; the hub's "
        "suggester also reads the schemas' types and labels (the names-only row goes without labels and samples). "
        "The shopify and woocommerce pairs were written after the synonym table, as a check that it carries over. "
        "DistributionBased compares value distributions and needs far more rows than these samples give.",
        "",
        "| matcher | threshold | precision | recall | F1 | TP | FP | FN | seconds |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows_:
        lines.append(f"| {row['matcher']} | {row['threshold']:.3f} | {row['precision']:.3f} | {row['recall']:.3f} | "
                     f"**{row['f1']:.3f}** | {row['tp']} | {row['fp']} | {row['fn']} | {row['seconds']:.1f} |")
    lines += ["", "F1 per pair:", "", "| pair | " + " | ".join(_short(r["matcher"]) for r in rows_) + " |",
              "|---|" + "---:|" * len(rows_)]
    for name in pairs:
        lines.append(f"| {name} | " + " | ".join(f"{r['per_pair'][name]:.2f}" for r in rows_) + " |")
    if result["notes"]:
        lines += [""] + [f"- {name}: {note}" for name, note in result["notes"].items()]
    return "\n".join(lines) + "\n"


def _short(name: str) -> str:
    return (name.replace("Valentine ", "").replace("hub suggester ", "hub ").replace("(source + target samples)", "(both)")
            .replace("(source samples only)", "(source)").replace("(names only: no samples, no labels)", "(names)")
            .replace(f"(source samples, its default threshold {DEFAULT_THRESHOLD})", "(default)")
            .replace("(schema + instances)", "(+inst)").replace("(schema)", "").replace("JaccardDistanceMatcher", "Jaccard")
            .replace("DistributionBased", "Distribution").replace("SimilarityFlooding", "SimFlooding").strip())


def main(results_path=None) -> str:
    """Run the comparison, write it to ``results_path`` (default bench/suggest/RESULTS.md), return it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    text = markdown()
    Path(results_path or RESULTS).write_text(text)
    return text


if __name__ == "__main__":
    print(main(sys.argv[1] if len(sys.argv) > 1 else None))
