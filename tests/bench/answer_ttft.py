#!/usr/bin/env python3
"""Time to first token of grounded answers, against llama.cpp's own prompt rate, same run.

1. Builds a small matter (one NDA, the 劳动合同法) in a temporary home.
2. Runs `lexdesk chat --matter` with a question and a follow-up (real chat model, greedy), then
   reads the saved session: per turn prompt tokens, tokens reused from the KV cache, and the
   engine's time to first token.
3. Runs `llama-bench -p <first prompt's tokens> -n 0` on the same model and threads, and reports
   - first turn:  TTFT ÷ (prompt tokens ÷ llama-bench's prompt rate)  (≈ 1 means no overhead
     beyond evaluating the prompt);
   - follow-up:   TTFT ÷ first turn's TTFT  (goal ≤ 0.5: the conversation's prefix is reused).

Usage:
  python3 tests/bench/answer_ttft.py [--lexdesk BIN] [--llama-bench BIN] [--model GGUF] [--shared DIR]
      [--threads N] [--out report.json]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = Path.home() / ".cache/lexdesk"
QUESTIONS = [
    "Can the receiving party reverse engineer the confidential information?",
    "And may it share the information with its employees?",
]


def default_lexdesk():
    for p in (CACHE / "target/release/lexdesk", CACHE / "target/debug/lexdesk"):
        if p.exists():
            return str(p)
    return "lexdesk"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lexdesk", default=default_lexdesk())
    p.add_argument("--llama-bench", default=str(CACHE / "llama-bench-build/build/llama-bench"))
    p.add_argument("--model", default=str(CACHE / "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    p.add_argument("--shared", default=os.environ.get("LEXDESK_SHARED", str(HERE.parents[2] / "shared")))
    p.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    p.add_argument("--max-tokens", type=int, default=64)
    p.add_argument("--out")
    args = p.parse_args()
    shared = Path(args.shared)
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "passive")
    env.setdefault("LEXDESK_MODELS_DIR", str(CACHE / "models"))
    env["LEXDESK_LOG"] = "error"

    with tempfile.TemporaryDirectory(prefix="lexdesk-ttft-") as home:
        base = [args.lexdesk, "--home", home, "--threads", str(args.threads)]
        files = [shared / "data/corpus/en-nda/nda-0003.txt", shared / "data/corpus/zh-laws/社会法/劳动合同法(2012-12-28).md"]
        subprocess.run(base + ["ingest", "--matter", "bench", "--json", *map(str, files)], check=True,
                       capture_output=True, env=env)
        subprocess.run(
            base + ["chat", "--matter", "bench", "--doc", "nda-0003.txt", "-m", args.model,
                    "--max-tokens", str(args.max_tokens)],
            input="\n".join(QUESTIONS) + "\n", text=True, check=True, capture_output=True, env=env,
        )
        sessions = json.loads(subprocess.run(base + ["session", "list", "--matter", "bench", "--json"], check=True,
                                             capture_output=True, text=True, env=env).stdout)
        session = json.loads(subprocess.run(base + ["session", "export", "--matter", "bench", "--format", "json",
                                                    sessions[0]["id"]], check=True, capture_output=True, text=True,
                                            env=env).stdout)
    turns = [t["answer"] for t in session["turns"]]
    if len(turns) != 2 or any(t["usage"] is None for t in turns):
        sys.exit(f"expected two generated turns, got: {json.dumps(turns)[:2000]}")
    u1, u2 = turns[0]["usage"], turns[1]["usage"]
    p1 = u1["prompt_tokens"]

    bench = subprocess.run(
        [args.llama_bench, "-m", args.model, "-p", str(p1), "-n", "0", "-r", "3", "-t", str(args.threads), "-o", "json"],
        check=True, capture_output=True, text=True, env=env,
    )
    rows = json.loads(bench.stdout)
    pp_rate = rows[0]["avg_ts"]
    expected_ms = p1 / pp_rate * 1000.0
    report = {
        "model": Path(args.model).name,
        "threads": args.threads,
        "llama_bench_pp_tokens_per_second": pp_rate,
        "first": {
            "prompt_tokens": p1,
            "cached_prompt_tokens": u1["cached_prompt_tokens"],
            "ttft_ms": u1["time_to_first_token_ms"],
            "expected_ms": expected_ms,
            "ratio_to_llama_bench": u1["time_to_first_token_ms"] / expected_ms,
            "answer_first_token_ms": turns[0]["timings"]["first_token_ms"],
            "retrieval_ms": turns[0]["timings"]["retrieval_ms"],
        },
        "follow_up": {
            "prompt_tokens": u2["prompt_tokens"],
            "cached_prompt_tokens": u2["cached_prompt_tokens"],
            "ttft_ms": u2["time_to_first_token_ms"],
            "ratio_to_first": u2["time_to_first_token_ms"] / u1["time_to_first_token_ms"],
            "answer_first_token_ms": turns[1]["timings"]["first_token_ms"],
        },
    }
    f, g = report["first"], report["follow_up"]
    print(f"llama-bench pp{p1}: {pp_rate:.1f} tok/s  ({report['model']}, {args.threads} threads)")
    print(f"first question : {f['prompt_tokens']} prompt tokens, TTFT {f['ttft_ms']:.0f} ms "
          f"(llama-bench would take {expected_ms:.0f} ms: ratio {f['ratio_to_llama_bench']:.2f}); "
          f"with retrieval {f['answer_first_token_ms']:.0f} ms")
    print(f"follow-up      : {g['prompt_tokens']} prompt tokens of which {g['cached_prompt_tokens']} reused, "
          f"TTFT {g['ttft_ms']:.0f} ms = {g['ratio_to_first']:.2f} × the first (goal ≤ 0.50)")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
