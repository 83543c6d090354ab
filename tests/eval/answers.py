#!/usr/bin/env python3
"""Answer quality of LexDesk's chat model on a sample of the development sets.

Asks `lexdesk ask --json` (the configured or default models) questions of the development sets
of ../shared/data/eval in the matters tests/eval/retrieval.py ingested (zh-laws, en-nda), and
the same kind of questions of the *other* matter, which cannot answer them. Per set:

- answered: the answer did not abstain;
- grounded: the answer did not abstain and at least one verified citation comes from a gold
  source (zh: a gold file, cited at the gold article or quoting its snippet; NDA: the question's
  document, with a quote overlapping an evidence span);
- gold fallback: the answer abstained because nothing the model wrote could be verified, and the
  checked passages it shows instead include a gold one;
- dishonest quotes: verified quotes that are not in the cited file's text (whitespace ignored) —
  must be 0;
- off-corpus abstention: share of questions asked of the wrong matter that abstained.

Usage:
  python3 tests/eval/answers.py --lexdesk target/debug/lexdesk --home /tmp/eval-home [--per-set 8]
"""

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval import SETS, common_arguments, corpus_root  # noqa: E402

OTHER = {"zh-laws": "en-nda", "en-nda": "zh-laws"}
WS = re.compile(r"\s+")


def squash(text):
    return WS.sub("", text)


def ask(args, matter, question, doc=None):
    cmd = [args.lexdesk, "--home", args.home, "ask", "--matter", matter, "--json"]
    if doc:
        cmd += ["--doc", doc]
    started = time.time()
    proc = subprocess.run(cmd + [question], capture_output=True, text=True)
    if proc.returncode != 0:
        return None, time.time() - started, proc.stderr.strip().splitlines()[-1:]
    return json.loads(proc.stdout), time.time() - started, None


def file_text(root, source, cache):
    if source not in cache:
        path = Path(source)
        if not path.is_absolute():
            path = root / source
        try:
            cache[source] = squash(path.read_text(encoding="utf-8"))
        except OSError:
            cache[source] = None
    return cache[source]


def grounded(row, answer, root):
    passages = {p.get("id"): p for p in answer["searched"]["passages"] if p.get("id")}
    for c in answer["citations"]:
        if not c["verified"]:
            continue
        if "evidence" in row:
            if c["doc"] != row.get("doc"):
                continue
            spans = [squash(e) for e in row["evidence"]]
            quote = squash(c["quote"])
            if any(quote and (quote in s or s in quote) for s in spans):
                return True
            p = passages.get(c["id"])
            if p and any(s[len(s) // 2 - 10 : len(s) // 2 + 10] in squash(p.get("heading", "")) for s in spans):
                return True
            # The cited passage (heading + page span) is not in the answer; fall back to the quote
            # overlapping an evidence span by 20 characters.
            if any(len(quote) >= 20 and any(quote[i : i + 20] in s for i in range(0, len(quote) - 19, 10)) for s in spans):
                return True
        else:
            try:
                rel = Path(c["source"]).resolve().relative_to(root).as_posix()
            except ValueError:
                rel = c["source"]
            if rel not in row["gold_files"]:
                continue
            heading = c.get("heading", "")
            if row.get("article") and row["article"] in heading:
                return True
            if row["gold_snippet"][:12] in squash(c["quote"]):
                return True
    return False


def main():
    p = common_arguments(__doc__)
    p.add_argument("--per-set", type=int, default=8)
    p.add_argument("--off-corpus", type=int, default=4, help="questions per set asked of the other matter")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    shared = Path(args.shared).resolve()
    rng = random.Random(args.seed)
    report = {"sets": {}, "items": []}
    cache = {}
    for s, matter in SETS.items():
        rows = [json.loads(l) for l in open(shared / "data/eval" / f"{s}.dev.jsonl", encoding="utf-8")]
        sample = rng.sample(rows, min(args.per_set, len(rows)))
        off = rng.sample([r for r in rows if r not in sample], min(args.off_corpus, len(rows) - len(sample)))
        root = corpus_root(args, matter)
        stats = {"questions": len(sample), "answered": 0, "grounded": 0, "gold_fallback": 0, "verified_quotes": 0,
                 "dishonest_quotes": 0, "errors": 0, "seconds": [], "off_corpus": len(off), "off_corpus_abstained": 0}
        for row in sample:
            answer, seconds, error = ask(args, matter, row["question"], row.get("doc"))
            stats["seconds"].append(round(seconds, 1))
            item = {"set": s, "id": row["id"], "question": row["question"], "seconds": round(seconds, 1)}
            if answer is None:
                stats["errors"] += 1
                item["error"] = error
            else:
                item.update(abstained=answer["abstained"], answer=answer["answer"], citations=answer["citations"],
                            timings=answer.get("timings"), usage=answer.get("usage"))
                stats["answered"] += not answer["abstained"]
                g = grounded(row, answer, root)
                item["grounded"] = g and not answer["abstained"]
                stats["grounded"] += item["grounded"]
                stats["gold_fallback"] += g and answer["abstained"]
                for c in answer["citations"]:
                    if c["verified"]:
                        stats["verified_quotes"] += 1
                        text = file_text(root, c["source"], cache)
                        if text is not None and squash(c["quote"]) not in text:
                            stats["dishonest_quotes"] += 1
                            item.setdefault("dishonest", []).append(c["quote"])
            report["items"].append(item)
            print(f"{s} {row['id']}: {'error' if answer is None else ('abstained' if answer['abstained'] else 'answered')}"
                  f"{' grounded' if item.get('grounded') else ''} ({seconds:.0f} s)", file=sys.stderr, flush=True)
        for row in off:
            answer, seconds, error = ask(args, OTHER[matter], row["question"])
            abstained = answer is not None and answer["abstained"]
            stats["off_corpus_abstained"] += abstained
            report["items"].append({"set": s, "id": row["id"], "off_corpus": True, "abstained": abstained,
                                    "answer": answer and answer["answer"], "seconds": round(seconds, 1)})
            print(f"{s} {row['id']} asked of {OTHER[matter]}: {'abstained' if abstained else 'ANSWERED'} ({seconds:.0f} s)",
                  file=sys.stderr, flush=True)
        secs = sorted(stats.pop("seconds"))
        stats["median_seconds"] = secs[len(secs) // 2] if secs else None
        report["sets"][s] = stats
        print(f"{s:<22} n={stats['questions']} answered {stats['answered']} grounded {stats['grounded']} "
              f"gold fallback {stats['gold_fallback']} "
              f"verified quotes {stats['verified_quotes']} dishonest {stats['dishonest_quotes']} errors {stats['errors']} "
              f"off-corpus abstained {stats['off_corpus_abstained']}/{stats['off_corpus']} "
              f"median {stats['median_seconds']} s", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
