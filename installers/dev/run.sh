#!/usr/bin/env bash
# Start LexDesk on built-in defaults: sets up a fresh machine if needed (Debian packages, Rust,
# Node, the test models, the web UI), builds, and opens the desktop app. On its first start the
# app puts the sample documents of assets/demo (an NDA and a Chinese labour contract) into the
# matter "Demo" and selects it; the default small chat model answers with verified citations (or
# says the documents do not answer). Without a display (SSH, CI) it opens the same grounded chat
# over the demo matter in the terminal instead. Extra arguments go to the app / `lexdesk chat`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$LEXDESK_ROOT"
# The same package and target selection as the test command, so both share one llama.cpp build
# (a different selection changes feature unification and rebuilds llama.cpp).
cargo build --quiet --workspace --all-targets --locked
export LEXDESK_DEMO_DIR="$LEXDESK_ROOT/assets/demo"
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && [ "${LEXDESK_TERMINAL:-0}" != 1 ]; then
  exec "$CARGO_TARGET_DIR/debug/lexdesk-desktop" "$@"
fi
LEXDESK="$CARGO_TARGET_DIR/debug/lexdesk"
# Idempotent: content already in the matter is skipped.
"$LEXDESK" ingest --matter Demo --json assets/demo >/dev/null
exec "$LEXDESK" chat --matter Demo "$@"
