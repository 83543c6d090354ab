#!/usr/bin/env bash
# LexDesk's server against llama.cpp's own server (llama-server), same model, same threads, same
# parallel sequences, same machine, same run: throughput and latency at concurrency 1, 4 and 8,
# and their ratios (goal: LexDesk >= 1.0 of llama-server in tokens/s at concurrency 8).
#
#   bash tests/bench/server_compare.sh      # SmolLM2-135M Q4_1, 16 requests of 64 tokens per level
#   MODEL=/path/model.gguf THREADS=2 PARALLEL=8 REQUESTS=16 MAX_TOKENS=64 bash tests/bench/server_compare.sh
#
# llama-server's sources are not in the llama-cpp-sys-2 crate; they come from the llama.cpp that
# the PyPI sdist of llama-cpp-python vendors (LLAMA_CPP_PYTHON_VERSION), built with the CMake
# flags of LexDesk's own llama.cpp build (read from its CMakeCache). Writes
# server-bench-results.json into BENCH_OUT (default: the current directory).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../installers/dev/setup.sh"
cd "$LEXDESK_ROOT"

MODEL="${MODEL:-$LEXDESK_MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf}"
THREADS="${THREADS:-$(getconf _NPROCESSORS_ONLN)}"
PARALLEL="${PARALLEL:-8}"
CTX="${CTX:-1024}"
REQUESTS="${REQUESTS:-16}"
MAX_TOKENS="${MAX_TOKENS:-64}"
BENCH_OUT="${BENCH_OUT:-.}"
LLAMA_CPP_PYTHON_VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
mkdir -p "$BENCH_OUT"
log() { printf '\033[1m[server-bench]\033[0m %s\n' "$*" >&2; }

cargo build --quiet --workspace --all-targets --locked
LEXDESK="$CARGO_TARGET_DIR/debug/lexdesk"
CACHE="$(ls -t "$CARGO_TARGET_DIR"/debug/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt | head -n 1)"

WORK="$HOME/.cache/lexdesk/llama-server-src"
SRC="$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp"
mkdir -p "$WORK"
if [ ! -d "$SRC/tools/server" ]; then
  log "fetching the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist (it vendors llama.cpp with its server)"
  python3 -m pip download --quiet --no-binary :all: --no-deps "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$WORK"
  tar xzf "$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz" -C "$WORK"
fi
. "$LEXDESK_ROOT/tests/bench/llama_flags.sh"
llama_cmake_flags "$CACHE"
BUILD="$WORK/build-$LLAMA_CPP_PYTHON_VERSION"
if [ ! -x "$BUILD/bin/llama-server" ]; then
  log "building llama-server (a few minutes)"
  cmake -S "$SRC" -B "$BUILD" -Wno-dev "${FLAGS[@]}" -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$BUILD" --target llama-server -j "$(getconf _NPROCESSORS_ONLN)" >/dev/null
fi

RESULTS="$(mktemp -d)"
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$RESULTS"' EXIT
wait_up() { for _ in $(seq 1 600); do curl -fsS -o /dev/null "$@" && return 0; sleep 0.2; done; return 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MODEL_ID="$(basename "$MODEL" .gguf)"

run_llama_server() {
  local port; port="$(free_port)"
  "$BUILD/bin/llama-server" -m "$MODEL" --host 127.0.0.1 --port "$port" -t "$THREADS" -tb "$THREADS" \
    -c "$((CTX * PARALLEL))" -np "$PARALLEL" -ngl 0 --no-webui >"$RESULTS/llama-server.log" 2>&1 &
  local pid=$!
  wait_up "http://127.0.0.1:$port/health"
  python3 tests/bench/server_load.py --url "http://127.0.0.1:$port" --model "$MODEL_ID" \
    --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" --out "$RESULTS/llama-server.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
run_lexdesk() {
  local port home; port="$(free_port)"; home="$(mktemp -d)"
  cat >"$home/config.toml" <<TOML
[models]
chat = "$MODEL"
[engine]
threads = $THREADS
context_length = $CTX
gpu_layers = 0
TOML
  local key; key="$(LEXDESK_HOME="$home" "$LEXDESK" keys create bench --scope ask,read --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
  LEXDESK_HOME="$home" "$LEXDESK" serve --bind "127.0.0.1:$port" --parallel "$PARALLEL" --queue 256 \
    --rate-limit 0 >"$RESULTS/lexdesk.log" 2>&1 &
  local pid=$!
  wait_up -H "Authorization: Bearer $key" "http://127.0.0.1:$port/ready"
  python3 tests/bench/server_load.py --url "http://127.0.0.1:$port" --key "$key" --model "$MODEL_ID" \
    --requests "$REQUESTS" --max-tokens "$MAX_TOKENS" --out "$RESULTS/lexdesk.json"
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$home"
}
log "llama-server ($PARALLEL slots, $THREADS threads)"; run_llama_server
log "lexdesk serve ($PARALLEL sequences, $THREADS threads)"; run_lexdesk

python3 - "$RESULTS" "$BENCH_OUT/server-bench-results.json" "$MODEL" "$THREADS" "$PARALLEL" "$LLAMA_CPP_PYTHON_VERSION" <<'PY'
import json, sys
results, out, model, threads, parallel, version = sys.argv[1:]
ref = json.load(open(f"{results}/llama-server.json"))
lx = json.load(open(f"{results}/lexdesk.json"))
rows = []
for a, b in zip(ref, lx):
    rows.append({"concurrency": a["concurrency"], "llama_server_tok_s": a["tokens_per_s"], "lexdesk_tok_s": b["tokens_per_s"],
                 "throughput_ratio": b["tokens_per_s"] / a["tokens_per_s"],
                 "llama_server_latency_s": a["latency_mean_s"], "lexdesk_latency_s": b["latency_mean_s"],
                 "latency_ratio": b["latency_mean_s"] / a["latency_mean_s"]})
json.dump({"model": model, "threads": int(threads), "parallel": int(parallel),
           "llama_server_from": f"llama-cpp-python {version} sdist", "levels": rows,
           "llama_server": ref, "lexdesk": lx}, open(out, "w"), indent=2)
print(f"{'c':>3} {'llama-server tok/s':>19} {'lexdesk tok/s':>14} {'ratio':>6} {'latency ratio':>14}")
for r in rows:
    print(f"{r['concurrency']:>3} {r['llama_server_tok_s']:>19.1f} {r['lexdesk_tok_s']:>14.1f} "
          f"{r['throughput_ratio']:>6.3f} {r['latency_ratio']:>14.3f}")
print("goal: throughput ratio >= 1.0 at concurrency 8 (latency ratio: lower is better)")
PY
