#!/usr/bin/env bash
# End-to-end tests of the real desktop app: the debug build of lexdesk-desktop under Xvfb,
# driven over WebDriver (tauri-driver → WebKitWebDriver), with the real test models, a fresh
# data directory and the demo documents. Screenshots of every step go to $LEXDESK_ARTIFACTS
# (default ~/.cache/lexdesk/artifacts/desktop). Expects installers/dev/setup.sh to have run and
# the workspace to be built (tests/run.sh does both).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
: "${CARGO_TARGET_DIR:?run from tests/run.sh or source installers/dev/setup.sh}"

export LEXDESK_DESKTOP_BIN="${LEXDESK_DESKTOP_BIN:-$CARGO_TARGET_DIR/debug/lexdesk-desktop}"
export LEXDESK_ARTIFACTS="${LEXDESK_ARTIFACTS:-$HOME/.cache/lexdesk/artifacts/desktop}"
export LEXDESK_DEMO_DIR="$root/assets/demo"
# The fast plumbing models (the suite checks the app's behaviour, not answer quality); the
# built-in defaults are checked by the CLI end-to-end tests.
export LEXDESK_CHAT_MODEL="${LEXDESK_CHAT_MODEL:-SmolLM2-135M-Instruct.Q4_1.gguf}"
export LEXDESK_EMBED_MODEL="${LEXDESK_EMBED_MODEL:-all-MiniLM-L6-v2-q8_0.gguf}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export LEXDESK_HOME="$work/home"
export LEXDESK_E2E_FIXTURES="$work/fixtures"
rm -rf "$LEXDESK_ARTIFACTS"
mkdir -p "$LEXDESK_HOME" "$LEXDESK_ARTIFACTS"
# No accessibility bus under Xvfb. (WEBKIT_DISABLE_COMPOSITING_MODE must not be set: WebKitWebDriver's
# screenshots then never return.)
export NO_AT_BRIDGE=1

cd "$here"
[ -d node_modules ] && [ node_modules -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error
status=0
xvfb-run --auto-servernum --server-args="-screen 0 1440x900x24" npm test || status=$?
echo "desktop e2e screenshots: $LEXDESK_ARTIFACTS" >&2
exit "$status"
