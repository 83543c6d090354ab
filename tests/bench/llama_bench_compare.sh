#!/usr/bin/env bash
# Throughput of LexDesk's engine against llama.cpp's own llama-bench, in the same run:
# same llama.cpp sources (those vendored by llama-cpp-sys-2), same CMake flags (read from the
# CMakeCache of LexDesk's own release build), same model, same threads, same sizes.
#
#   bash tests/bench/llama_bench_compare.sh            # SmolLM2-135M Q4_1, pp512 / tg128, 5 reps
#   MODEL=/path/to/model.gguf THREADS=4 P=512 N=128 R=5 ROUNDS=2 bash tests/bench/llama_bench_compare.sh
#
# llama-bench's source (tools/llama-bench/llama-bench.cpp) is not shipped in the crate. The script
# takes it from LLAMA_BENCH_SRC (a folder holding llama-bench.cpp; default
# ~/.cache/lexdesk/llama-bench-src), else downloads it from LLAMA_BENCH_URL.
# Writes bench-results.json into BENCH_OUT (default: the current directory).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../../installers/dev/setup.sh"
cd "$LEXDESK_ROOT"

MODEL="${MODEL:-$LEXDESK_MODELS_DIR/SmolLM2-135M-Instruct.Q4_1.gguf}"
THREADS="${THREADS:-$(getconf _NPROCESSORS_ONLN)}"
P="${P:-512}"
N="${N:-128}"
R="${R:-5}"
ROUNDS="${ROUNDS:-2}"
BENCH_OUT="${BENCH_OUT:-.}"
mkdir -p "$BENCH_OUT"
BENCH_SRC="${LLAMA_BENCH_SRC:-$HOME/.cache/lexdesk/llama-bench-src}"
LLAMA_BENCH_URL="${LLAMA_BENCH_URL:-https://raw.githubusercontent.com/ggml-org/llama.cpp/master/tools/llama-bench/llama-bench.cpp}"

log() { printf '\033[1m[bench]\033[0m %s\n' "$*" >&2; }

log "building lexdesk (release)"
cargo build --quiet --release --locked -p lexdesk-cli
LEXDESK="$CARGO_TARGET_DIR/release/lexdesk"

# The vendored llama.cpp and the CMake cache of the release build of llama-cpp-sys-2.
SYS_DIR="$(cargo metadata --format-version 1 --locked | python3 -c '
import json, sys, os
d = json.load(sys.stdin)
print(os.path.dirname(next(p for p in d["packages"] if p["name"] == "llama-cpp-sys-2")["manifest_path"]))')"
LLAMA_SRC="$SYS_DIR/llama.cpp"
CACHE="$(ls -t "$CARGO_TARGET_DIR"/release/build/llama-cpp-sys-2-*/out/build/CMakeCache.txt | head -n 1)"

WORK="$HOME/.cache/lexdesk/llama-bench-build"
WORK_SRC="$WORK/src"
mkdir -p "$BENCH_SRC"
if [ ! -f "$BENCH_SRC/llama-bench.cpp" ]; then
  log "fetching llama-bench.cpp from $LLAMA_BENCH_URL"
  curl -fsSL "$LLAMA_BENCH_URL" -o "$BENCH_SRC/llama-bench.cpp"
fi

# llama-bench.cpp may be a little newer than the vendored llama.cpp. Adapt the two driver-side API
# differences seen so far (MoE CPU-override helper, common_fit_params' extra-model argument); both
# are used only with -ncmoe / --fit-target, which this benchmark does not pass. llama_decode and
# the kernels measured are untouched.
PATCHED="$WORK_SRC/llama-bench.cpp"
mkdir -p "$WORK_SRC"
sed -e 's/llm_ffn_exps_block_regex(i)/llm_ffn_block_regex(i, LLM_FFN_EXPS_REGEX)/' "$BENCH_SRC/llama-bench.cpp" >"$PATCHED"
python3 - "$PATCHED" "$LLAMA_SRC/common/fit.h" <<'PY'
import re, sys
src_path, fit_h = sys.argv[1], open(sys.argv[2]).read()
src = open(src_path).read()
# The vendored common_fit_params takes an `extra` model before the log level: pass none.
if "common_fit_extra_model" in fit_h:
    src = re.sub(r"(inst\.fit_min_ctx,\s*\n\s*)(params\.verbose \? GGML_LOG_LEVEL_DEBUG)", r"\1nullptr,\n                    \2", src)
open(src_path, "w").write(src)
PY
# Newer llama.cpp builds its tools into one multi-call binary; llama-bench.cpp then has no main().
if grep -q '^int main' "$PATCHED"; then
  : >"$WORK_SRC/main.cpp"
else
  printf 'int llama_bench(int argc, char ** argv);\nint main(int argc, char ** argv) { return llama_bench(argc, argv); }\n' >"$WORK_SRC/main.cpp"
fi

# Same flags as LexDesk's llama.cpp: every GGML_*/LLAMA_* option, build type and compiler flags.
. "$LEXDESK_ROOT/tests/bench/llama_flags.sh"
llama_cmake_flags "$CACHE"
mkdir -p "$WORK"
cat > "$WORK/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.14)
project(lexdesk_llama_bench C CXX)
set(LLAMA_BUILD_COMMON ON CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TOOLS OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_EXAMPLES OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_TESTS OFF CACHE BOOL "" FORCE)
set(LLAMA_BUILD_SERVER OFF CACHE BOOL "" FORCE)
set(LLAMA_CURL OFF CACHE BOOL "" FORCE)
set(BUILD_SHARED_LIBS OFF CACHE BOOL "" FORCE)
add_subdirectory("$LLAMA_SRC" llama.cpp)
add_executable(llama-bench "$PATCHED" "$WORK_SRC/main.cpp")
target_link_libraries(llama-bench PRIVATE llama-common llama ggml)
EOF
log "building llama-bench from $LLAMA_SRC"
cmake -S "$WORK" -B "$WORK/build" -Wno-dev "${FLAGS[@]}" >/dev/null
cmake --build "$WORK/build" --target llama-bench -j "$(getconf _NPROCESSORS_ONLN)" >/dev/null
LLAMA_BENCH="$WORK/build/llama-bench"

RESULTS="$(mktemp -d)"
run_llama_bench() {
  "$LLAMA_BENCH" -m "$MODEL" -p "$P" -n "$N" -r "$R" -t "$THREADS" -ngl 0 -o json >"$RESULTS/llama-bench-$1.json"
}
run_lexdesk() {
  "$LEXDESK" bench --model "$MODEL" -p "$P" -g "$N" -r "$R" --threads "$THREADS" --gpu-layers 0 \
    --ctx-size "$((P + N + 16))" --json >"$RESULTS/lexdesk-$1.json"
}
for round in $(seq 1 "$ROUNDS"); do
  # Alternate the order so neither side always runs on a warmer or cooler machine.
  if [ $((round % 2)) -eq 1 ]; then
    log "round $round: llama-bench, then lexdesk"; run_llama_bench "$round"; run_lexdesk "$round"
  else
    log "round $round: lexdesk, then llama-bench"; run_lexdesk "$round"; run_llama_bench "$round"
  fi
done

python3 - "$RESULTS" "$ROUNDS" "$BENCH_OUT/bench-results.json" "$MODEL" "$THREADS" <<'EOF'
import json, sys, statistics
results, rounds, out, model, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
rows = []
for r in range(1, rounds + 1):
    lb = json.load(open(f"{results}/llama-bench-{r}.json"))
    lx = json.load(open(f"{results}/lexdesk-{r}.json"))
    pp = next(t["avg_ts"] for t in lb if t["n_prompt"] > 0 and t["n_gen"] == 0)
    tg = next(t["avg_ts"] for t in lb if t["n_gen"] > 0 and t["n_prompt"] == 0)
    rows.append({"round": r, "llama_bench_pp": pp, "lexdesk_pp": lx["pp_mean"], "pp_ratio": lx["pp_mean"] / pp,
                 "llama_bench_tg": tg, "lexdesk_tg": lx["tg_mean"], "tg_ratio": lx["tg_mean"] / tg})
summary = {
    "model": model, "threads": int(threads), "rounds": rows,
    "pp_ratio": statistics.mean(r["pp_ratio"] for r in rows),
    "tg_ratio": statistics.mean(r["tg_ratio"] for r in rows),
}
json.dump(summary, open(out, "w"), indent=2)
print(f"{'round':>5} {'llama-bench pp':>15} {'lexdesk pp':>11} {'ratio':>6} {'llama-bench tg':>15} {'lexdesk tg':>11} {'ratio':>6}")
for r in rows:
    print(f"{r['round']:>5} {r['llama_bench_pp']:>15.1f} {r['lexdesk_pp']:>11.1f} {r['pp_ratio']:>6.3f} "
          f"{r['llama_bench_tg']:>15.1f} {r['lexdesk_tg']:>11.1f} {r['tg_ratio']:>6.3f}")
print(f"prompt processing: {summary['pp_ratio']:.3f} of llama-bench (goal >= 0.95)")
print(f"generation:        {summary['tg_ratio']:.3f} of llama-bench (goal >= 0.97)")
EOF
