#!/usr/bin/env python3
"""Retrieval quality of LexDesk on the development sets in ../shared/data/eval.

Ingests the corpora into two matters (zh-laws, en-nda) of a LexDesk home, runs
`lexdesk search --batch … --json` for each set and search mode, and scores the hits with the rules
of ../shared/README.md:

- zh-statute-recall / zh-statute-semantic: a hit comes from one of `gold_files` and its text,
  whitespace removed, contains `gold_snippet`.
- en-nda-evidence: search restricted to `doc`; a hit contains the middle 40 characters of any
  evidence span (whitespace folded to single spaces).

Reports hit@1, hit@5, hit@10, MRR@10 and "first hit within the first 1,500 characters of retrieved
text" per set and mode, as a table and as JSON (--out).

Usage:
  python3 tests/eval/retrieval.py --lexdesk target/debug/lexdesk --home /tmp/eval-home \
      [--shared ../shared] [--modes text,vector,hybrid] [--sets zh-statute-recall,...] [--limit N]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

SETS = {
    "zh-statute-recall": "zh-laws",
    "zh-statute-semantic": "zh-laws",
    "en-nda-evidence": "en-nda",
}
CORPUS = {"zh-laws": "data/corpus/zh-laws", "en-nda": "data/corpus/en-nda"}
WS = re.compile(r"\s+")


def run(cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, check=True, **kw)


def matter_exists(args, name):
    out = subprocess.run(
        [args.lexdesk, "--home", args.home, "matter", "list", "--json"], check=True, capture_output=True, text=True
    ).stdout
    return any(m["name"] == name for m in json.loads(out))


def ingest(args, matter, corpus_dir):
    started = time.time()
    # The summary line of --json output carries the measured figures.
    proc = run(
        [args.lexdesk, "--home", args.home, "ingest", "--matter", matter, "--json", corpus_dir],
        capture_output=True,
        text=True,
    )
    summary = None
    for line in proc.stdout.splitlines():
        event = json.loads(line)
        if event.get("event") == "summary":
            summary = event["summary"]
    print(f"ingested {matter} in {time.time() - started:.0f} s", file=sys.stderr)
    return summary


def is_hit(row, hit, corpus_root):
    if row["set"] == "en-nda-evidence" or "evidence" in row:
        text = WS.sub(" ", hit["text"])
        for ev in row["evidence"]:
            ev = WS.sub(" ", ev).strip()
            mid = len(ev) // 2
            needle = ev[max(0, mid - 20) : mid + 20]
            if needle and needle in text:
                return True
        return False
    source = Path(hit["source"]).resolve()
    try:
        rel = source.relative_to(corpus_root).as_posix()
    except ValueError:
        rel = source.as_posix()
    if rel not in row["gold_files"]:
        return False
    return row["gold_snippet"] in WS.sub("", hit["text"])


def score(rows, results, corpus_root, k=10):
    n = len(rows)
    h1 = h5 = h10 = 0
    mrr = 0.0
    within_1500 = 0
    for row in rows:
        hits = results.get(str(row["id"]), [])[:k]
        first = None
        chars_before = 0
        first_chars = None
        for rank, hit in enumerate(hits, 1):
            if is_hit(row, hit, corpus_root):
                first = rank
                first_chars = chars_before
                break
            chars_before += len(hit["text"])
        if first is not None:
            h1 += first <= 1
            h5 += first <= 5
            h10 += first <= 10
            mrr += 1.0 / first
            within_1500 += first_chars < 1500
    return {
        "questions": n,
        "hit@1": h1 / n,
        "hit@5": h5 / n,
        "hit@10": h10 / n,
        "mrr@10": mrr / n,
        "first_hit_within_1500_chars": within_1500 / n,
    }


def common_arguments(doc):
    """The arguments every script of tests/eval takes: the binary, the home, the shared folder,
    the report file and corpus overrides (`corpus_root` reads them)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lexdesk", required=True)
    p.add_argument("--home", required=True)
    p.add_argument("--shared", default=os.environ.get("LEXDESK_SHARED", str(Path(__file__).resolve().parents[3] / "shared")))
    p.add_argument("--out", help="write the report as JSON here")
    p.add_argument("--corpus", action="append", default=[], metavar="MATTER=DIR",
                   help="ingest this folder for a matter instead of the shared corpus (e.g. a subset of it with "
                        "the same relative paths, which gold files are matched on)")
    return p


def corpus_root(args, matter):
    """The folder a matter's documents come from: a --corpus override, else the shared corpus."""
    overrides = dict(c.split("=", 1) for c in args.corpus)
    return Path(overrides.get(matter, Path(args.shared).resolve() / CORPUS[matter])).resolve()


def main():
    p = common_arguments(__doc__)
    p.add_argument("--modes", default="text,vector,hybrid")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--limit", type=int, default=0, help="only the first N questions of each set")
    p.add_argument("--vector-weight", type=float, help="weight of vector scores in hybrid search (lexdesk's default if absent)")
    p.add_argument("--rerank", choices=["on", "off"], help="rerank with the language model (lexdesk's setting if absent)")
    args = p.parse_args()
    shared = Path(args.shared).resolve()
    sets = [s for s in args.sets.split(",") if s]
    report = {"ingest": {}, "results": []}

    for matter in sorted({SETS[s] for s in sets}):
        if not matter_exists(args, matter):
            report["ingest"][matter] = ingest(args, matter, str(corpus_root(args, matter)))

    for s in sets:
        rows = [json.loads(l) for l in open(shared / "data/eval" / f"{s}.dev.jsonl", encoding="utf-8")]
        if args.limit:
            rows = rows[: args.limit]
        qfile = Path(args.home) / f"{s}.questions.jsonl"
        with open(qfile, "w", encoding="utf-8") as f:
            for r in rows:
                q = {"id": r["id"], "question": r["question"]}
                if r.get("doc"):
                    q["doc"] = r["doc"]
                f.write(json.dumps(q, ensure_ascii=False) + "\n")
        root = corpus_root(args, SETS[s])
        for mode in args.modes.split(","):
            started = time.time()
            proc = run(
                [args.lexdesk, "--home", args.home, "search", "--matter", SETS[s], "--batch", str(qfile),
                 "--json", "--top-k", "10", "--mode", mode]
                + (["--vector-weight", str(args.vector_weight)] if args.vector_weight is not None and mode == "hybrid" else [])
                + (["--rerank", args.rerank] if args.rerank else []),
                capture_output=True,
                text=True,
            )
            elapsed = time.time() - started
            results = {}
            for line in proc.stdout.splitlines():
                obj = json.loads(line)
                results[str(obj["id"])] = obj["hits"]
            m = score(rows, results, root)
            m.update({"set": s, "mode": mode, "rerank": args.rerank, "seconds": round(elapsed, 1),
                      "seconds_per_question": round(elapsed / max(1, len(rows)), 2)})
            report["results"].append(m)
            print(
                f"{s:<22} {mode:<7} n={m['questions']:<4} hit@1 {m['hit@1']:.3f}  hit@5 {m['hit@5']:.3f}  "
                f"hit@10 {m['hit@10']:.3f}  MRR@10 {m['mrr@10']:.3f}  ≤1500 chars {m['first_hit_within_1500_chars']:.3f}"
                f"  ({elapsed:.0f} s)",
                flush=True,
            )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
