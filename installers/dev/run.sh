#!/usr/bin/env bash
# Start LexDesk on built-in defaults: sets up a fresh machine if needed, builds, puts the demo
# documents (assets/demo: a sample NDA and a sample Chinese labour contract) into the "Demo"
# matter, and opens a grounded chat over it with the default small model (answers cite and
# verify their sources, or say the documents do not answer). Extra arguments go to `lexdesk chat`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$LEXDESK_ROOT"
# The same package and target selection as the test command, so both share one llama.cpp build
# (a different selection changes feature unification and rebuilds llama.cpp).
cargo build --quiet --workspace --all-targets --locked
LEXDESK="$CARGO_TARGET_DIR/debug/lexdesk"
# Idempotent: content already in the matter is skipped.
"$LEXDESK" ingest --matter Demo --json assets/demo >/dev/null
exec "$LEXDESK" chat --matter Demo "$@"
