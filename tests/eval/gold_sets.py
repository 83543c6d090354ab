#!/usr/bin/env python3
"""Convert the development sets of ../shared/data/eval into LexDesk gold sets (JSONL).

- zh-statute-recall: "What does article N of law X say?" — the reference answer is the
  article's text; the expected sources are the law's files at that article (`第五十七条`).
- zh-statute-semantic: a scenario or the facts of a criminal case — the expected sources are
  the gold files at the gold article; no reference answer (the article applies, it is not the
  answer).
- en-nda-evidence: a ContractNLI hypothesis about one NDA, asked as "Under the agreement in
  nda-0003.txt, is the following true? …"; the expected source is that document, the reference
  answer its evidence spans; tagged with the label (entailment or contradiction).

Tags carry the set's own sub-sets (zh-criminal-facts, zh-scenario) and the label, for the
per-tag breakdowns. `--per-set N --seed S` writes a seeded sample of each set instead.

Usage:
  python3 tests/eval/gold_sets.py --out DIR [--shared ../shared] [--per-set N] [--seed 22]
"""

import argparse
import json
import os
import random
from pathlib import Path

SETS = ["zh-statute-recall", "zh-statute-semantic", "en-nda-evidence"]


def convert(name, row):
    if name == "en-nda-evidence":
        label = row["label"].lower()
        return {
            "id": row["id"],
            "question": f"Under the agreement in {row['doc']}, is the following true? {row['question']}",
            "expected": " ".join(e.strip() for e in row["evidence"]),
            "sources": [row["doc"]],
            "tags": ["en", "nda", label],
        }
    item = {
        "id": row["id"],
        "question": row["question"],
        "sources": [{"doc": f, "label": row["article"]} for f in row["gold_files"]],
        "tags": ["zh", row.get("set", name)],
    }
    if name == "zh-statute-recall":
        item["expected"] = row["answer"]
        item["tags"] = ["zh", "statute-recall"]
    return item


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shared", default=os.environ.get("LEXDESK_SHARED", str(Path(__file__).resolve().parents[3] / "shared")))
    p.add_argument("--out", required=True)
    p.add_argument("--per-set", type=int, default=0, help="a seeded sample of N items per set (0: all)")
    p.add_argument("--seed", type=int, default=22)
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name in SETS:
        rows = [json.loads(l) for l in open(Path(args.shared) / "data/eval" / f"{name}.dev.jsonl", encoding="utf-8")]
        if args.per_set and args.per_set < len(rows):
            rows = random.Random(f"{args.seed}-{name}").sample(rows, args.per_set)
        target = out / f"{name}.jsonl"
        with open(target, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(convert(name, row), ensure_ascii=False) + "\n")
        print(f"wrote {target} ({len(rows)} items)")


if __name__ == "__main__":
    main()
