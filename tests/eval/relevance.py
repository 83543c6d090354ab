#!/usr/bin/env python3
"""Where an embedding model's cosines separate relevant passages from irrelevant ones.

LexDesk judges a retrieved passage relevant evidence when (among other rules) its cosine
similarity to the question reaches a floor that depends on the embedding model: MiniLM's
cosines spread over [0, 1], multilingual-e5's are compressed (unrelated text ≈ 0.75). This
script measures, on the development sets of ../shared/data/eval, on a home that
tests/eval/retrieval.py has ingested (matters zh-laws and en-nda):

- answerable: the cosine of the first gold passage among the 10 nearest (vector search in
  the question's own matter), and the best cosine of the passages that are not gold;
- off-corpus: the best cosine when the same questions are asked of the *other* matter (Chinese
  statute questions of the English NDAs and the reverse) — no passage there can answer them.

It prints percentiles and the floor that best separates gold passages from off-corpus best hits
(Youden's J: gold rate above the floor minus off-corpus rate above it), as a table and as JSON
(--out).

Usage:
  python3 tests/eval/relevance.py --lexdesk target/debug/lexdesk --home /tmp/eval-home [--limit N]
"""

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval import SETS, common_arguments, corpus_root, is_hit  # noqa: E402

OTHER = {"zh-laws": "en-nda", "en-nda": "zh-laws"}


def search(args, matter, rows, keep_doc):
    qfile = Path(args.home) / f"relevance-{matter}.jsonl"
    with open(qfile, "w", encoding="utf-8") as f:
        for r in rows:
            q = {"id": r["id"], "question": r["question"]}
            if keep_doc and r.get("doc"):
                q["doc"] = r["doc"]
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    out = subprocess.run(
        [args.lexdesk, "--home", args.home, "search", "--matter", matter, "--batch", str(qfile), "--json",
         "--top-k", "10", "--mode", "vector"],
        check=True, capture_output=True, text=True,
    ).stdout
    return {str(o["id"]): o["hits"] for o in map(json.loads, out.splitlines())}


def pct(values, q):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


def best_floor(gold, off):
    candidates = sorted(set(round(v, 3) for v in gold + off))
    best = (float("-inf"), 0.0)
    for t in candidates:
        j = sum(v >= t for v in gold) / len(gold) - sum(v >= t for v in off) / len(off)
        if j > best[0]:
            best = (j, t)
    return {"floor": best[1], "youden_j": round(best[0], 3),
            "gold_above": round(sum(v >= best[1] for v in gold) / len(gold), 3),
            "off_corpus_above": round(sum(v >= best[1] for v in off) / len(off), 3)}


def main():
    p = common_arguments(__doc__)
    p.add_argument("--limit", type=int, default=0)
    args = p.parse_args()
    shared = Path(args.shared).resolve()
    report = {"sets": {}}
    all_gold, all_off = [], []
    for s, matter in SETS.items():
        rows = [json.loads(l) for l in open(shared / "data/eval" / f"{s}.dev.jsonl", encoding="utf-8")]
        if args.limit:
            rows = rows[: args.limit]
        root = corpus_root(args, matter)
        own = search(args, matter, rows, keep_doc=True)
        other = search(args, OTHER[matter], rows, keep_doc=False)
        gold, nongold, off = [], [], []
        for r in rows:
            hits = own.get(str(r["id"]), [])
            g = next((h for h in hits if is_hit(r, h, root)), None)
            # Vector search: a hit's score is its cosine.
            if g is not None:
                gold.append(g.get("vector_score", g["score"]))
            ng = [h.get("vector_score", h["score"]) for h in hits if not is_hit(r, h, root)]
            if ng:
                nongold.append(max(ng))
            oh = other.get(str(r["id"]), [])
            if oh:
                off.append(oh[0].get("vector_score", oh[0]["score"]))
        all_gold += gold
        all_off += off
        row = {
            "questions": len(rows),
            "gold_found": len(gold),
            "gold": {q: round(pct(gold, q), 3) for q in (0.1, 0.5, 0.9)},
            "best_non_gold": {q: round(pct(nongold, q), 3) for q in (0.1, 0.5, 0.9)},
            "off_corpus_best": {q: round(pct(off, q), 3) for q in (0.1, 0.5, 0.9)},
            "separation": best_floor(gold, off) if gold and off else None,
        }
        report["sets"][s] = row
        print(f"{s:<22} gold p10/50/90 {row['gold'][0.1]:.3f}/{row['gold'][0.5]:.3f}/{row['gold'][0.9]:.3f}  "
              f"non-gold best {row['best_non_gold'][0.5]:.3f}  off-corpus best p10/50/90 "
              f"{row['off_corpus_best'][0.1]:.3f}/{row['off_corpus_best'][0.5]:.3f}/{row['off_corpus_best'][0.9]:.3f}  "
              f"floor {row['separation']}", flush=True)
    report["all"] = best_floor(all_gold, all_off)
    print(f"all sets: {report['all']}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
