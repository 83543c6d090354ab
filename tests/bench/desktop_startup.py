#!/usr/bin/env python3
"""Cold start and idle memory of the desktop app (goals: interactive in <= 1 s, <= 150 MB idle).

Method. Each run starts `lexdesk-desktop` with a fresh, empty data directory and no demo folder
(so no model is loaded), and with LEXDESK_STARTUP_REPORT set: the app writes the time from the
start of `main` to the UI's first call (`app_info`, made once React has mounted the first
screen) into that file. The wall time from spawning the process to the file appearing is also
taken (it adds exec and dynamic loading). After the window is interactive the app idles for
`--idle` seconds; then the proportional set size (PSS, from /proc/PID/smaps_rollup: shared pages
counted once across processes) of the app and all its child processes (WebKitWebProcess,
WebKitNetworkProcess) is summed, and their RSS for comparison. Needs a display: run it under
`xvfb-run -a` on a headless machine.

Reference, in the same run, alternating with LexDesk: the smallest WebKitGTK app (one GTK window,
one WebKit2 WebView with a blank local page, through the system's PyGObject: Debian's
python3-gi and gir1.2-webkit2-4.1), measured the same way; the ratios say how much of the
memory and start time is LexDesk's and how much the system web engine's floor.

  xvfb-run -a python3 tests/bench/desktop_startup.py --bin $CARGO_TARGET_DIR/debug/lexdesk-desktop
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def descendants(pid: int) -> list[int]:
    out = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for c in children.read_text().split():
            out.extend(descendants(int(c)))
    return out


def memory_kib(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def run_once(binary: str, idle: float, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "LEXDESK_HOME": str(Path(tmp) / "home"),
            "LEXDESK_DEMO_DIR": str(Path(tmp) / "no-demo"),
            "LEXDESK_STARTUP_REPORT": str(Path(tmp) / "startup.json"),
        }
        return measure([binary], tmp, env, idle, timeout)


def measure(cmd: list[str], tmp: str, extra_env: dict, idle: float, timeout: float) -> dict:
    """Start `cmd`, wait for `tmp/startup.json`, idle, then sum PSS and RSS over its processes."""
    report = Path(tmp) / "startup.json"
    env = dict(os.environ)
    env.update(extra_env, WEBKIT_DISABLE_COMPOSITING_MODE="1", NO_AT_BRIDGE="1")
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not report.exists() or report.stat().st_size == 0:
            if proc.poll() is not None:
                raise SystemExit(f"{cmd[0]} exited with {proc.returncode} before its window was ready")
            if time.monotonic() - started > timeout:
                raise SystemExit(f"{cmd[0]}: the window did not become interactive in time")
            time.sleep(0.005)
        wall_ms = (time.monotonic() - started) * 1000
        inside_ms = json.loads(report.read_text())["ui_ready_ms"]
        time.sleep(idle)
        pids = descendants(proc.pid)
        pss = sum(memory_kib(p, "Pss") for p in pids)
        rss = sum(memory_kib(p, "Rss") for p in pids)
        return {"wall_ms": wall_ms, "ui_ready_ms": inside_ms, "pss_mib": pss / 1024, "rss_mib": rss / 1024,
                "processes": len(pids)}
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


# The reference: the smallest WebKitGTK app — one GTK window with one WebKit2 WebView (the engine
# Tauri uses on Linux) showing a blank local page, through the system's PyGObject. It writes its
# report when the page has loaded, as LexDesk does when its first screen is interactive.
REFERENCE = r"""
import json, sys, time
t0 = time.monotonic()
import gi
gi.require_version("Gtk", "3.0"); gi.require_version("WebKit2", "4.1")
from gi.repository import Gtk, WebKit2
report = sys.argv[1]
win = Gtk.Window(); win.set_default_size(1280, 820)
view = WebKit2.WebView(); win.add(view)
def loaded(v, event):
    if event == WebKit2.LoadEvent.FINISHED:
        open(report, "w").write(json.dumps({"ui_ready_ms": (time.monotonic() - t0) * 1000}))
view.connect("load-changed", loaded)
view.load_html("<!doctype html><html><body><h1>Hello</h1></body></html>", "file:///")
win.connect("destroy", Gtk.main_quit); win.show_all(); Gtk.main()
"""


def run_reference(idle: float, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "blank_webview.py"
        script.write_text(REFERENCE)
        return measure(["/usr/bin/python3", str(script), str(Path(tmp) / "startup.json")], tmp, {}, idle, timeout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=5.0, help="seconds idle before memory is read")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-reference", action="store_true",
                    help="skip the reference run (a blank page in a minimal WebKitGTK window)")
    args = ap.parse_args()
    keys = ("wall_ms", "ui_ready_ms", "pss_mib", "rss_mib")
    runs, reference = [], []
    # Alternate the two programs so that a busy moment of the machine hits both alike.
    for _ in range(args.runs):
        runs.append(run_once(args.bin, args.idle, args.timeout))
        if not args.no_reference:
            reference.append(run_reference(args.idle, args.timeout))
    summary = {k: statistics.median(r[k] for r in runs) for k in keys}
    summary["runs"] = runs
    if reference:
        summary["reference"] = {k: statistics.median(r[k] for r in reference) for k in keys}
        summary["reference"]["runs"] = reference
        summary["ratio_pss"] = summary["pss_mib"] / summary["reference"]["pss_mib"]
        summary["ratio_wall"] = summary["wall_ms"] / summary["reference"]["wall_ms"]
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{len(runs)} runs, medians: spawn → interactive {summary['wall_ms']:.0f} ms "
          f"(main → interactive {summary['ui_ready_ms']:.0f} ms); idle memory PSS {summary['pss_mib']:.0f} MiB "
          f"(RSS {summary['rss_mib']:.0f} MiB over {runs[0]['processes']} processes)")
    if reference:
        r = summary["reference"]
        print(f"reference (blank page, minimal WebKitGTK window): spawn → loaded {r['wall_ms']:.0f} ms; "
              f"idle memory PSS {r['pss_mib']:.0f} MiB (RSS {r['rss_mib']:.0f} MiB over "
              f"{reference[0]['processes']} processes)")
        print(f"LexDesk / reference: memory {summary['ratio_pss']:.2f}, start {summary['ratio_wall']:.2f}")
    print("goals: <= 1000 ms, <= 150 MB")


if __name__ == "__main__":
    main()
