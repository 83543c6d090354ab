#!/usr/bin/env bash
# The whole test suite: set-up, formatting, lints, build, unit and end-to-end tests with real models.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/../installers/dev/setup.sh"
cd "$LEXDESK_ROOT"

# Each step with the minutes and seconds elapsed so far (cold and warm CI times are read off these).
step() { printf '\n\033[1m== [%d:%02d] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2; }

# mold links instead of GNU ld (about ten times faster on the workspace's large test binaries),
# through `mold -run`, which redirects the linker without changing a compiler flag: the build
# cache stays the one `cargo run` and `cargo test` use without it.
if command -v mold >/dev/null 2>&1; then
  cargo() { mold -run cargo "$@"; }
  export -f cargo
fi

step "UI: type check and unit tests (Vitest, mocked IPC)"
(cd ui && npm run --silent typecheck && npm test --silent)
step "rustfmt"
cargo fmt --all --check
step "clippy (warnings are errors) and build, in one pass"
# clippy-driver compiles the workspace's own crates, linting them on the way: the mechanism of
# `cargo clippy` itself (RUSTC_WORKSPACE_WRAPPER + CLIPPY_ARGS), with `build` instead of `check`.
# Dependencies are then compiled once, for lints, build and tests alike, instead of a second time
# in check mode (about 740 crates: LanceDB's Arrow/DataFusion, Tauri, llama.cpp's bindings).
# Exported, so that every cargo call below (tests, the keychain and desktop steps) reuses it.
# --workspace --all-targets: the same selection as `cargo test`, so they share one build of
# llama.cpp (another selection changes feature unification and rebuilds it).
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)"
export RUSTC_WORKSPACE_WRAPPER
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
cargo build --workspace --all-targets --locked
step "tests (unit + end-to-end with real GGUF models)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "$log" || status=$?
step "OS keychain: the Secret Service (GNOME Keyring in a private D-Bus session)"
# A throw-away keyring, unlocked with a fixed password, in a temporary data folder: the secrets
# tests, then a remote engine whose API key is read from that keychain.
keyring_home="$(mktemp -d)"
XDG_DATA_HOME="$keyring_home" dbus-run-session -- bash -c \
  'printf lexdesk-ci | gnome-keyring-daemon --unlock --components=secrets >/dev/null || exit 1
   LEXDESK_TEST_SECRET_SERVICE=1 cargo test --workspace --locked --test secrets; a=$?
   (cd tests/server && "$LEXDESK_PY_VENV/bin/python" test_remote_key.py --backend keychain \
     --lexdesk "$CARGO_TARGET_DIR/debug/lexdesk"); b=$?
   exit $((a | b))' 2>&1 | tee -a "$log" || status=$?
rm -rf "$keyring_home"
step "server mode: openai client, promtool, nginx over two nodes, failover, load, a remote engine"
"$LEXDESK_PY_VENV/bin/python" tests/server/test_server.py --lexdesk "$CARGO_TARGET_DIR/debug/lexdesk" \
  --nginx-conf installers/server/nginx.conf 2>&1 | tee -a "$log" || status=$?
(cd tests/server && "$LEXDESK_PY_VENV/bin/python" test_remote_key.py --backend file \
  --lexdesk "$CARGO_TARGET_DIR/debug/lexdesk") 2>&1 | tee -a "$log" || status=$?
step "desktop app end to end (WebDriver, Xvfb)"
bash tests/desktop/run.sh 2>&1 | tee -a "$log" || status=$?
# One closing line over all test binaries.
awk '/^test result:/ { p += $4; f += $6; i += $8 }
  /^# pass / { p += $3 } /^# fail / { f += $3 } /^# skipped / { i += $3 }
  END { printf "\nlexdesk: %d passed, %d failed, %d skipped\n", p, f, i }' "$log"
step "done"
exit "$status"
