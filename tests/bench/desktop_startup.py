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
        report = Path(tmp) / "startup.json"
        env = dict(os.environ)
        env.update(
            LEXDESK_HOME=str(Path(tmp) / "home"),
            LEXDESK_DEMO_DIR=str(Path(tmp) / "no-demo"),
            LEXDESK_STARTUP_REPORT=str(report),
            WEBKIT_DISABLE_COMPOSITING_MODE="1",
            NO_AT_BRIDGE="1",
        )
        started = time.monotonic()
        proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            while not report.exists() or report.stat().st_size == 0:
                if proc.poll() is not None:
                    raise SystemExit(f"the app exited with {proc.returncode} before its window was ready")
                if time.monotonic() - started > timeout:
                    raise SystemExit("the window did not become interactive in time")
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--idle", type=float, default=5.0, help="seconds idle before memory is read")
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    runs = [run_once(args.bin, args.idle, args.timeout) for _ in range(args.runs)]
    summary = {k: statistics.median(r[k] for r in runs) for k in ("wall_ms", "ui_ready_ms", "pss_mib", "rss_mib")}
    summary["runs"] = runs
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"{len(runs)} runs, medians: spawn → interactive {summary['wall_ms']:.0f} ms "
          f"(main → interactive {summary['ui_ready_ms']:.0f} ms); idle memory PSS {summary['pss_mib']:.0f} MiB "
          f"(RSS {summary['rss_mib']:.0f} MiB over {runs[0]['processes']} processes)")
    print("goals: <= 1000 ms, <= 150 MB")


if __name__ == "__main__":
    main()
