#!/usr/bin/env python3
"""The whole evaluation of the development sets with `lexdesk eval`, in one command.

1. Ingests the shared corpora into the matters zh-laws and en-nda of a LexDesk home (once; the
   retrieval script's ingestion, `--corpus MATTER=DIR` for a subset).
2. Converts the development sets into gold sets (tests/eval/gold_sets.py; `--per-set N` for a
   seeded sample) and imports them, with the project's off-corpus set (assets/evals).
3. Runs each set with `lexdesk eval run` on the configured (default) models and writes each
   run's HTML report next to a JSON summary of every metric (`--out`).

Compare two configurations afterwards with `lexdesk eval compare RUN_A RUN_B` (e.g. a run with
`--search-mode vector` against the default hybrid one: `--label` and `--search-mode` pass through).

Usage:
  python3 tests/eval/dev_eval.py --lexdesk target/debug/lexdesk --home /tmp/eval-home \
      [--per-set 10] [--parallel 2] [--search-mode hybrid] [--label hybrid] [--judge] [--reports DIR]
"""

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from retrieval import SETS, common_arguments, corpus_root, ingest, matter_exists  # noqa: E402

OFF_CORPUS = HERE.parents[1] / "assets" / "evals" / "off-corpus.jsonl"


def lexdesk(args, *cmd, capture=False):
    full = [args.lexdesk, "--home", args.home, *cmd]
    print("+", " ".join(str(c) for c in full), file=sys.stderr, flush=True)
    proc = subprocess.run(full, capture_output=capture, text=True)
    if proc.returncode not in (0, 8):
        raise SystemExit(f"{' '.join(map(str, full))} exited with {proc.returncode}\n{proc.stderr if capture else ''}")
    return proc


def main():
    p = common_arguments(__doc__)
    p.add_argument("--per-set", type=int, default=0, help="a seeded sample of N items per set (0: all)")
    p.add_argument("--seed", type=int, default=22)
    p.add_argument("--parallel", type=int, default=1)
    p.add_argument("--search-mode", default="hybrid")
    p.add_argument("--label", default="")
    p.add_argument("--sets", default=",".join([*SETS, "off-corpus"]))
    p.add_argument("--reports", help="write each run's HTML report into this folder")
    p.add_argument("--judge", action="store_true",
                   help="also grade the answers with the chat model as an LLM judge (weaker evidence)")
    args = p.parse_args()
    home = Path(args.home)
    sets = [s for s in args.sets.split(",") if s]
    for matter in sorted(set(SETS.values())):
        if not matter_exists(args, matter):
            ingest(args, matter, str(corpus_root(args, matter)))
    gold = home / "gold"
    subprocess.run(
        [sys.executable, str(HERE / "gold_sets.py"), "--shared", args.shared, "--out", str(gold),
         "--per-set", str(args.per_set), "--seed", str(args.seed)],
        check=True,
    )
    files = {name: gold / f"{name}.jsonl" for name in SETS}
    files["off-corpus"] = OFF_CORPUS
    summary = []
    for name in sets:
        lexdesk(args, "eval", "sets", "import", str(files[name]), "--replace")
        matter = SETS.get(name, "zh-laws")
        cmd = ["eval", "run", name, "--matter", matter, "--search-mode", args.search_mode,
               "--parallel", str(args.parallel), "--json"]
        if args.label:
            cmd += ["--label", args.label]
        if args.judge:
            cmd += ["--judge"]
        if args.reports:
            Path(args.reports).mkdir(parents=True, exist_ok=True)
            cmd += ["--report", str(Path(args.reports) / f"{name}{'-' + args.label if args.label else ''}.html")]
        result = json.loads(lexdesk(args, *cmd, capture=True).stdout)
        metrics = {m["key"]: m["estimate"] for m in result["metrics"]}
        summary.append({"set": name, "matter": matter, "run": result["run"]["id"], "honest": result["honest"],
                        "verified_quotes": result["verified_quotes"], "metrics": metrics})
        shown = []
        for key in ["keyword_accuracy", "reference_f1", "rouge_l", "citation_correct", "grounded", "honesty",
                    "abstention_precision", "abstention_recall", "answered", "latency_ms", "first_token_ms", "tokens_per_second",
                    "judge_score"]:
            e = metrics.get(key)
            if e:
                if key == "judge_score":
                    v = f"{e['value']:.2f} [{e['low']:.2f}, {e['high']:.2f}] of 5"
                elif key in ("latency_ms", "first_token_ms", "tokens_per_second"):
                    v = f"{e['value']:.0f} [{e['low']:.0f}, {e['high']:.0f}]"
                else:
                    v = f"{e['value']:.3f} [{e['low']:.3f}, {e['high']:.3f}]"
                shown.append(f"{key} {v}")
        print(f"{name} ({result['done']} items, run {result['run']['id']}): " + "; ".join(shown), flush=True)
        if not result["honest"]:
            print(f"  CITATION HONESTY BELOW 100 % in {name}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2, ensure_ascii=False))
    if any(not s["honest"] for s in summary):
        sys.exit(8)


if __name__ == "__main__":
    main()
