#!/usr/bin/env bash
# Start LexDesk on built-in defaults: sets up a fresh machine if needed, builds, and opens the
# demo chat with the default small model. Extra arguments go to `lexdesk chat`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$LEXDESK_ROOT"
# The same package and target selection as the test command, so both share one llama.cpp build
# (a different selection changes feature unification and rebuilds llama.cpp).
cargo build --quiet --workspace --all-targets --locked
exec "$CARGO_TARGET_DIR/debug/lexdesk" chat "$@"
