#!/usr/bin/env python3
"""Throughput and latency of an OpenAI-compatible chat endpoint at several concurrencies.

Sends the same fixed set of chat requests (greedy, `max_tokens` each) at concurrency 1, 4 and 8
and reports, per level: requests/s, generated tokens/s (from each answer's `usage`), mean and
p95 latency. Used by server_compare.sh on LexDesk's server and on llama.cpp's own server, in the
same run, against the same model.

  server_load.py --url http://127.0.0.1:8080 --key KEY --model ID --out results.json
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import statistics
import time
import urllib.request

PROMPTS = [
    "Explain what a non-disclosure agreement is and list its usual clauses.",
    "Describe the duties of a receiving party under a confidentiality agreement.",
    "What remedies are available when a contract is breached? Give examples.",
    "Summarise the purpose of a governing law clause and why it matters.",
    "List the steps to terminate an employment contract lawfully.",
    "What is the difference between a warranty and an indemnity?",
    "Explain force majeure clauses and when they apply.",
    "Describe how damages are calculated for breach of contract.",
]


def one(url: str, key: str | None, model: str, prompt: str, max_tokens: int) -> tuple[float, int]:
    body = json.dumps({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
    }).encode()
    req = urllib.request.Request(url + "/v1/chat/completions", data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    t = time.monotonic()
    with urllib.request.urlopen(req, timeout=600) as r:
        answer = json.loads(r.read())
    return time.monotonic() - t, int(answer["usage"]["completion_tokens"])


def level(url: str, key: str | None, model: str, concurrency: int, requests: int, max_tokens: int) -> dict:
    prompts = [PROMPTS[i % len(PROMPTS)] for i in range(requests)]
    t0 = time.monotonic()
    with cf.ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(lambda p: one(url, key, model, p, max_tokens), prompts))
    wall = time.monotonic() - t0
    latencies = sorted(r[0] for r in results)
    tokens = sum(r[1] for r in results)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "wall_s": wall,
        "requests_per_s": requests / wall,
        "generated_tokens": tokens,
        "tokens_per_s": tokens / wall,
        "latency_mean_s": statistics.mean(latencies),
        "latency_p95_s": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--key")
    ap.add_argument("--model", required=True)
    ap.add_argument("--levels", default="1,4,8")
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    # One warm-up request (model pages, caches) that is not measured.
    one(args.url, args.key, args.model, PROMPTS[0], 8)
    rows = [level(args.url, args.key, args.model, int(c), args.requests, args.max_tokens) for c in args.levels.split(",")]
    json.dump(rows, open(args.out, "w"), indent=2)
    for r in rows:
        print(f"c={r['concurrency']}: {r['tokens_per_s']:.1f} tok/s, {r['requests_per_s']:.2f} req/s, "
              f"mean {r['latency_mean_s']:.2f} s, p95 {r['latency_p95_s']:.2f} s", flush=True)


if __name__ == "__main__":
    main()
