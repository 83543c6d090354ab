#!/usr/bin/env python3
"""Server mode against real clients: two `lexdesk serve` nodes behind nginx on loopback.

- the official `openai` Python client (PyPI): models, chat, streaming, embeddings, wrong key;
- raw HTTP: malformed JSON, oversized bodies, missing and wrong keys get the right 4xx;
- `promtool check metrics` (Debian's prometheus package) on /metrics;
- nginx spreads requests over both nodes; a node killed mid-run costs at most the requests in
  flight on it;
- a bounded load test: 500 requests at concurrency 16, no errors but deliberate 429s.

Usage: test_server.py --lexdesk BIN --nginx-conf installers/server/nginx.conf
Prints `ok`/`not ok` lines and `# pass N` / `# fail N` (tests/run.sh adds them to its tally).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path

import openai

RESULTS: list[tuple[str, bool]] = []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, key: str | None = None, body: bytes | None = None,
         content_type: str = "application/json", timeout: float = 120) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    if key:
        req.add_header("Authorization", f"Bearer {key}")
    if body is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test(name: str):
    def wrap(f):
        def run(*a, **k):
            t = time.monotonic()
            try:
                f(*a, **k)
                RESULTS.append((name, True))
                print(f"ok - {name} ({time.monotonic() - t:.1f} s)", flush=True)
            except Exception:  # noqa: BLE001 - every failure is reported, then the run goes on
                RESULTS.append((name, False))
                print(f"not ok - {name}", flush=True)
                traceback.print_exc()
        return run
    return wrap


class Cluster:
    def __init__(self, lexdesk: str, nginx_conf: Path, work: Path):
        self.lexdesk = lexdesk
        self.work = work
        self.home = work / "home"
        self.env = dict(os.environ, LEXDESK_HOME=str(self.home), LEXDESK_LOG="warn")
        # The fast plumbing models: these tests check the API, not answer quality.
        self.env["LEXDESK_CHAT_MODEL"] = "SmolLM2-135M-Instruct.Q4_1.gguf"
        self.env["LEXDESK_EMBED_MODEL"] = "all-MiniLM-L6-v2-q8_0.gguf"
        self.nodes: list[tuple[int, subprocess.Popen]] = []
        self.nginx: subprocess.Popen | None = None
        self.nginx_conf = nginx_conf
        self.port = free_port()

    def cli(self, *args: str) -> dict:
        out = subprocess.run([self.lexdesk, *args], env=self.env, check=True, capture_output=True, text=True)
        return json.loads(out.stdout)

    def start_node(self) -> int:
        port = free_port()
        log = open(self.work / f"node-{port}.log", "w")
        p = subprocess.Popen([self.lexdesk, "serve", "--bind", f"127.0.0.1:{port}", "--parallel", "2",
                              "--queue", "64", "--rate-limit", "0"], env=self.env, stdout=log, stderr=log)
        self.nodes.append((port, p))
        return port

    def wait_ready(self, port: int, key: str, timeout: float = 180) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                status, _, _ = http("GET", f"http://127.0.0.1:{port}/ready", key, timeout=5)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"node {port} not ready; see {self.work}/node-{port}.log")

    def start_nginx(self) -> None:
        site = self.nginx_conf.read_text()
        upstreams = "\n".join(f"    server 127.0.0.1:{p} max_fails=2 fail_timeout=10s;" for p, _ in self.nodes)
        site = re.sub(r"(?m)^\s*server lexdesk-\d+:8080[^\n]*\n", "", site)
        site = site.replace("    least_conn;\n", "    least_conn;\n" + upstreams + "\n")
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        # Every test client shares one address, so the per-address limit is raised here; the
        # load test must then see no refusal at all (per-key limits are tested in e2e/server.rs).
        site = re.sub(r"rate=\d+r/s", "rate=10000r/s", site)
        site = re.sub(r"burst=\d+", "burst=10000", site)
        (self.work / "lexdesk.conf").write_text(site)
        tmp = self.work / "nginx"
        tmp.mkdir(exist_ok=True)
        main = f"""
user root;
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {self.work}/lexdesk.conf;
}}
"""
        (tmp / "nginx.conf").write_text(main)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        subprocess.run([nginx, "-t", "-q", "-c", str(tmp / "nginx.conf")], check=True)
        self.nginx = subprocess.Popen([nginx, "-c", str(tmp / "nginx.conf")])
        end = time.monotonic() + 10
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("nginx did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for _, p in self.nodes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
        for _, p in self.nodes + ([(0, self.nginx)] if self.nginx else []):
            try:
                p.wait(timeout=40)
            except subprocess.TimeoutExpired:
                p.kill()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lexdesk", required=True)
    ap.add_argument("--nginx-conf", required=True, type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lexdesk-server-test-"))
    c = Cluster(args.lexdesk, args.nginx_conf, work)
    try:
        admin = c.cli("keys", "create", "admin", "--scope", "admin", "--json")["key"]
        client_key = c.cli("keys", "create", "team", "--scope", "ask,read", "--json")["key"]
        reader = c.cli("keys", "create", "viewer", "--scope", "read", "--json")["key"]
        metrics_key = c.cli("keys", "create", "prometheus", "--scope", "metrics", "--json")["key"]
        ports = [c.start_node(), c.start_node()]
        for p in ports:
            c.wait_ready(p, reader)
        c.start_nginx()
        run_tests(c, ports, admin, client_key, reader, metrics_key)
    finally:
        c.stop()
    return report(work)


def report(work: Path) -> int:
    """Print the tally `tests/run.sh` adds up; keep the logs in `work` only when something failed."""
    passed = sum(ok for _, ok in RESULTS)
    failed = len(RESULTS) - passed
    print(f"# pass {passed}\n# fail {failed}")
    if failed == 0:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"logs kept in {work}")
    return 1 if failed else 0


def run_tests(c: Cluster, ports: list[int], admin: str, client_key: str, reader: str, metrics_key: str) -> None:
    api = openai.OpenAI(base_url=c.url + "/v1", api_key=client_key, max_retries=0, timeout=120)
    models = {m.id: m for m in api.models.list()}
    chat_id = next(i for i, m in models.items() if getattr(m, "kind", "") == "chat")
    embed_id = next(i for i, m in models.items() if getattr(m, "kind", "") == "embedding")
    messages = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Name a colour."}]
    shared: dict = {}

    @test("openai client: models list the chat and embedding models")
    def _models():
        assert len(models) == 2, models
        assert all(m.owned_by == "lexdesk" and m.object == "model" for m in models.values())

    @test("openai client: chat completion with usage")
    def _chat():
        r = api.chat.completions.create(model=chat_id, messages=messages, max_tokens=16, temperature=0)
        text = r.choices[0].message.content
        assert text and text.strip(), r
        assert r.choices[0].finish_reason in ("stop", "length")
        assert r.usage.prompt_tokens > 5 and 1 <= r.usage.completion_tokens <= 16
        assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
        shared["text"] = text

    @test("openai client: streaming chat matches, ends with usage")
    def _stream():
        stream = api.chat.completions.create(model=chat_id, messages=messages, max_tokens=16, temperature=0,
                                             stream=True, stream_options={"include_usage": True})
        parts, usage, finish = [], None, None
        for chunk in stream:
            if chunk.usage:
                usage = chunk.usage
            for ch in chunk.choices:
                if ch.delta.content:
                    parts.append(ch.delta.content)
                finish = ch.finish_reason or finish
        assert "".join(parts) == shared["text"], (parts, shared["text"])
        assert usage is not None and usage.completion_tokens >= 1 and finish in ("stop", "length")

    @test("openai client: embeddings (the client asks for base64)")
    def _embed():
        r = api.embeddings.create(model=embed_id, input=["non-compete clause", "governing law"])
        assert len(r.data) == 2 and len(r.data[0].embedding) == 384
        norm = sum(x * x for x in r.data[0].embedding) ** 0.5
        assert abs(norm - 1) < 1e-3, norm
        one = api.embeddings.create(model=embed_id, input="non-compete clause", encoding_format="float")
        assert max(abs(a - b) for a, b in zip(one.data[0].embedding, r.data[0].embedding)) < 1e-5

    @test("openai client: wrong key, missing scope, unknown model")
    def _auth():
        bad = openai.OpenAI(base_url=c.url + "/v1", api_key="lxd_000000000000_nope", max_retries=0)
        try:
            bad.models.list()
            raise AssertionError("a wrong key was accepted")
        except openai.AuthenticationError as e:
            assert e.status_code == 401 and e.body["code"] == "INVALID_API_KEY", e.body
        ro = openai.OpenAI(base_url=c.url + "/v1", api_key=reader, max_retries=0)
        try:
            ro.chat.completions.create(model=chat_id, messages=messages, max_tokens=4)
            raise AssertionError("a read key generated")
        except openai.PermissionDeniedError as e:
            assert e.status_code == 403
        try:
            api.chat.completions.create(model="gpt-4o", messages=messages, max_tokens=4)
            raise AssertionError("an unknown model was accepted")
        except openai.NotFoundError as e:
            assert e.body["code"] == "MODEL_NOT_FOUND"

    @test("raw HTTP: malformed JSON, oversized body, missing and wrong keys get the right 4xx")
    def _bad():
        chat = c.url + "/v1/chat/completions"
        cases = [
            (http("POST", chat, client_key, b'{"model": '), 400, "INVALID_JSON"),
            (http("POST", chat, client_key, b"[1, 2]"), 422, None),
            (http("POST", chat, client_key, b"x" * (3 << 20)), 413, "BODY_TOO_LARGE"),
            (http("POST", chat, None, b"{}"), 401, "INVALID_API_KEY"),
            (http("POST", chat, "Basic abc", b"{}"), 401, "INVALID_API_KEY"),
            (http("GET", c.url + "/v1/matters", "lxd_0123456789ab_wrong"), 401, "INVALID_API_KEY"),
            (http("GET", c.url + "/ready"), 401, "INVALID_API_KEY"),
            (http("DELETE", c.url + "/v1/matters/x", client_key), 403, "INSUFFICIENT_SCOPE"),
        ]
        for (status, _, body), want, code in cases:
            assert status == want, (status, want, body[:300])
            if code:
                assert json.loads(body)["error"]["code"] == code, body
        status, _, body = http("GET", c.url + "/health")
        assert status == 200 and json.loads(body)["status"] == "ok"

    @test("promtool check metrics accepts /metrics (metrics key; others refused)")
    def _promtool():
        status, headers, body = http("GET", f"http://127.0.0.1:{ports[0]}/metrics", metrics_key)
        assert status == 200 and headers["content-type"].startswith("text/plain"), (status, headers)
        text = body.decode()
        for name in ("lexdesk_http_requests_total", "lexdesk_http_request_duration_seconds_bucket",
                     "lexdesk_queue_depth", "lexdesk_active_sequences", "lexdesk_models_loaded"):
            assert name in text, name
        promtool = shutil.which("promtool")
        assert promtool, "promtool is missing (Debian package prometheus)"
        check = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr
        # The quality alert rules shipped for Prometheus are valid rules.
        rules = Path(__file__).resolve().parents[2] / "installers" / "server" / "alerts.yml"
        check = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True)
        assert check.returncode == 0 and "SUCCESS: 4 rules found" in check.stdout, check.stdout + check.stderr
        assert http("GET", f"http://127.0.0.1:{ports[0]}/metrics", client_key)[0] == 403

    @test("nginx spreads requests over both nodes")
    def _spread():
        seen = {}
        for _ in range(40):
            status, headers, _ = http("GET", c.url + "/v1/models", reader)
            assert status == 200
            up = headers.get("X-LexDesk-Upstream") or headers.get("x-lexdesk-upstream")
            seen[up] = seen.get(up, 0) + 1
        assert {f"127.0.0.1:{p}" for p in ports} <= set(seen), seen

    @test("load: 500 requests at concurrency 16 through nginx, no errors")
    def _load():
        chat_body = json.dumps({"model": chat_id, "messages": messages, "max_tokens": 8, "temperature": 0}).encode()
        emb_body = json.dumps({"model": embed_id, "input": "confidential information"}).encode()

        def one(i: int):
            t = time.monotonic()
            if i % 5 == 0:
                s, _, _ = http("POST", c.url + "/v1/chat/completions", client_key, chat_body)
            elif i % 5 == 1:
                s, _, _ = http("POST", c.url + "/v1/embeddings", client_key, emb_body)
            else:
                s, _, _ = http("GET", c.url + ("/v1/models" if i % 2 else "/v1/matters"), client_key)
            return s, time.monotonic() - t

        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(one, range(500)))
        wall = time.monotonic() - t0
        statuses = {}
        for s, _ in results:
            statuses[s] = statuses.get(s, 0) + 1
        lat = sorted(d for _, d in results)
        print(f"# load: {len(results)} requests in {wall:.1f} s ({len(results) / wall:.0f}/s), "
              f"p50 {statistics.median(lat) * 1e3:.0f} ms, p95 {lat[int(0.95 * len(lat))] * 1e3:.0f} ms, "
              f"statuses {statuses}", flush=True)
        assert statuses == {200: 500}, statuses

    @test("a node killed mid-run: traffic continues, errors only for requests in flight")
    def _failover():
        emb_body = json.dumps({"model": embed_id, "input": "termination for convenience"}).encode()
        victim_port, victim = c.nodes[1]
        done = []

        def one(i: int):
            if i == 20:
                victim.send_signal(signal.SIGKILL)
            path, body = ("/v1/embeddings", emb_body) if i % 2 else ("/v1/models", None)
            s, h, _ = http("POST" if body else "GET", c.url + path, client_key, body)
            done.append(i)
            return i, s, h.get("X-LexDesk-Upstream", "")

        with cf.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(one, range(80)))
        victim.wait(timeout=10)
        errors = [(i, s) for i, s, _ in results if s != 200]
        assert len(errors) <= 4, errors
        late = [(i, s, up) for i, s, up in results if i >= 30]
        assert all(s == 200 for _, s, _ in late), late
        assert all(str(victim_port) not in up.split(",")[-1] for _, _, up in late[8:]), late
        status, _, _ = http("GET", c.url + "/v1/models", reader)
        assert status == 200

    @test("deployment files: prometheus.yml passes promtool check config")
    def _prometheus_config():
        key_file = c.work / "metrics.key"
        key_file.write_text(metrics_key)
        config = c.work / "prometheus.yml"
        # The rule file the compose mounts at /etc/prometheus/alerts.yml: checked with the config.
        rules = (c.nginx_conf.parent / "alerts.yml").resolve()
        config.write_text((c.nginx_conf.parent / "prometheus.yml").read_text()
                          .replace("/etc/prometheus/metrics.key", str(key_file))
                          .replace("/etc/prometheus/alerts.yml", str(rules)))
        check = subprocess.run([shutil.which("promtool") or "promtool", "check", "config", str(config)],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        assert "SUCCESS: 4 rules found" in check.stdout, check.stdout

    for t in (_models, _chat, _stream, _embed, _auth, _bad, _promtool, _prometheus_config, _spread, _load, _failover):
        t()


if __name__ == "__main__":
    sys.exit(main())
