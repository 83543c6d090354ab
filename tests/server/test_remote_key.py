#!/usr/bin/env python3
"""A remote inference engine whose API key comes from LexDesk's secret store.

Two `lexdesk serve` nodes on loopback: the *engine* runs the real models; the *front* node has no
model of its own — its config names the engine as `[remote.chat]` and `[remote.embed]` with
`key = "remote:engine"`, a secret stored with `lexdesk secrets set` (read from standard input, as
a script or an operator pipes it). The official `openai` client then talks to the front node and
must get what the engine itself answers, and so must `lexdesk ask` in the front node's home
(the engine's own metrics count the tokens it generated for it).

  --backend keychain   the OS keychain. tests/run.sh runs this inside `dbus-run-session` with an
                       unlocked gnome-keyring, so it is the real Secret Service; the test checks
                       that `lexdesk secrets status` says so and that the key is in no file.
  --backend file       no session bus, a passphrase given: the encrypted-file fallback, with
                       its warning; the key is in the home only encrypted.

Then the secret is deleted: a front node started without it refuses to start and names the
command that stores it.

Usage: test_remote_key.py --lexdesk BIN --backend keychain|file
Prints `ok`/`not ok` lines and `# pass N` / `# fail N` (tests/run.sh adds them to its tally).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import openai

from test_server import Cluster, http, report, test

SECRET = "remote:engine"
DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo" / "mutual-nda-sample.md"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lexdesk", required=True)
    ap.add_argument("--backend", required=True, choices=["keychain", "file"])
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lexdesk-remote-key-"))
    (work / "engine").mkdir()
    (work / "front").mkdir()
    engine = Cluster(args.lexdesk, Path(), work / "engine")
    front = Cluster(args.lexdesk, Path(), work / "front")
    front.env.pop("LEXDESK_SECRETS", None)
    front.env.pop("LEXDESK_SECRETS_PASSPHRASE", None)
    if args.backend == "file":
        # No session bus, so no keychain: the fallback LexDesk takes when given a passphrase.
        front.env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        front.env["LEXDESK_SECRETS_PASSPHRASE"] = f"pass-{uuid.uuid4()}"
    else:
        # The keychain or an error: never a silent fallback.
        front.env["LEXDESK_SECRETS"] = "keychain"
    # The keychain is shared by everything in this D-Bus session: a name of our own, removed at the end.
    secret = f"{SECRET}-{uuid.uuid4().hex[:8]}" if args.backend == "keychain" else SECRET
    try:
        engine_key = engine.cli("keys", "create", "front-node", "--scope", "ask,read", "--json")["key"]
        metrics_key = engine.cli("keys", "create", "prometheus", "--scope", "metrics", "--json")["key"]
        port = engine.start_node()
        engine.wait_ready(port, engine_key)
        run_tests(engine, front, port, engine_key, metrics_key, args.backend, secret)
    finally:
        engine.stop()
        front.stop()
        subprocess.run([args.lexdesk, "secrets", "delete", secret], env=front.env, capture_output=True, check=False)
    return report(work)


def secrets(front: Cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([front.lexdesk, "secrets", *args], env=front.env, input=stdin, capture_output=True,
                          text=True, check=False)


def files_containing(root: Path, needle: str) -> list[Path]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and needle.encode() in p.read_bytes():
            hits.append(p)
    return hits


def metric(port: int, metrics_key: str, name: str, contains: str = "") -> int:
    """The sum of the samples of `name` (whose labels contain `contains`) on a node's /metrics."""
    status, _, body = http("GET", f"http://127.0.0.1:{port}/metrics", metrics_key)
    assert status == 200, status
    return sum(int(float(line.rsplit(" ", 1)[1])) for line in body.decode().splitlines()
               if line.startswith(name) and line[len(name)] in " {" and contains in line)


def lexdesk(front: Cluster, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([front.lexdesk, *args], env=front.env, capture_output=True, text=True, check=False)


def run_tests(engine: Cluster, front: Cluster, port: int, engine_key: str, metrics_key: str, backend: str,
              secret: str) -> None:
    engine_url = f"http://127.0.0.1:{port}/v1"
    direct = openai.OpenAI(base_url=engine_url, api_key=engine_key, max_retries=0, timeout=120)
    kinds = {m.id: getattr(m, "kind", "") for m in direct.models.list()}
    chat_id = next(i for i, k in kinds.items() if k == "chat")
    embed_id = next(i for i, k in kinds.items() if k == "embedding")
    config = (
        f'[remote.chat]\nurl = "{engine_url}"\nmodel = "{chat_id}"\nkey = "{secret}"\nretries = 1\n'
        f"context_length = 2048\n\n"
        f'[remote.embed]\nurl = "{engine_url}"\nmodel = "{embed_id}"\nkey = "{secret}"\nretries = 1\n'
    )
    front.home.mkdir(parents=True, exist_ok=True)
    (front.home / "config.toml").write_text(config)
    state: dict = {}

    @test(f"secrets ({backend}): the engine's key is stored from standard input, never in plain text")
    def _store():
        r = secrets(front, "set", secret, stdin=engine_key + "\n")
        assert r.returncode == 0, r.stderr
        where = "the OS keychain" if backend == "keychain" else "the encrypted file"
        assert where in r.stdout, r.stdout
        status = secrets(front, "status")
        assert status.returncode == 0 and where in status.stdout, (status.stdout, status.stderr)
        if backend == "file":
            assert "warning" in r.stderr.lower(), "the file fallback says it is not the keychain: " + r.stderr
        check = secrets(front, "check", secret)
        assert check.returncode == 0 and "stored" in check.stdout and engine_key not in check.stdout, check.stdout
        leaked = files_containing(front.work, engine_key)
        assert not leaked, f"the key is in plain text in {leaked}"

    @test(f"remote engine ({backend}): a node with no model of its own answers through the engine with that key")
    def _front():
        lawyer = front.cli("keys", "create", "lawyer", "--scope", "ask,read", "--json")["key"]
        fport = front.start_node()
        front.wait_ready(fport, lawyer, timeout=60)
        api = openai.OpenAI(base_url=f"http://127.0.0.1:{fport}/v1", api_key=lawyer, max_retries=0, timeout=120)
        listed = {m.id for m in api.models.list()}
        assert chat_id in listed and embed_id in listed, listed
        messages = [{"role": "user", "content": "Name a colour."}]
        via_front = api.chat.completions.create(model=chat_id, messages=messages, max_tokens=12, temperature=0)
        via_engine = direct.chat.completions.create(model=chat_id, messages=messages, max_tokens=12, temperature=0)
        assert via_front.choices[0].message.content == via_engine.choices[0].message.content, (via_front, via_engine)
        assert via_front.usage.completion_tokens == via_engine.usage.completion_tokens
        a = api.embeddings.create(model=embed_id, input="governing law", encoding_format="float").data[0].embedding
        b = direct.embeddings.create(model=embed_id, input="governing law", encoding_format="float").data[0].embedding
        assert len(a) == 384 and max(abs(x - y) for x, y in zip(a, b)) < 1e-5
        state["lawyer"] = lawyer

    @test(f"remote engine ({backend}): `lexdesk ingest` and `lexdesk ask` go through the engine too")
    def _cli():
        # `lexdesk ingest` embeds through the engine as well: one embedding model for the matter.
        embeddings = metric(port, metrics_key, "lexdesk_http_requests_total", 'route="/v1/embeddings"')
        ingest = lexdesk(front, "ingest", "--matter", "M", "--json", str(DEMO))
        assert ingest.returncode == 0, ingest.stderr
        assert metric(port, metrics_key, "lexdesk_http_requests_total", 'route="/v1/embeddings"') > embeddings
        before = metric(port, metrics_key, "lexdesk_generated_tokens_total")
        r = lexdesk(front, "ask", "--matter", "M", "--json", "--max-tokens", "24",
                    "How much notice is needed to terminate the NDA?")
        assert r.returncode == 0, r.stderr
        answer = json.loads(r.stdout)
        assert answer["usage"]["completion_tokens"] >= 1, answer
        assert answer["searched"]["passages"], answer
        after = metric(port, metrics_key, "lexdesk_generated_tokens_total")
        assert after - before == answer["usage"]["completion_tokens"], (before, after, answer["usage"])

    @test(f"remote engine ({backend}): without the stored key the node refuses to start and says how to fix it")
    def _missing():
        r = secrets(front, "delete", secret)
        assert r.returncode == 0 and "deleted" in r.stdout, (r.stdout, r.stderr)
        assert secrets(front, "check", secret).returncode == 1
        fport = front.start_node()
        proc = front.nodes[-1][1]
        proc.wait(timeout=60)
        assert proc.returncode != 0, "a node without its engine key started"
        log = (front.work / f"node-{fport}.log").read_text()
        assert f"lexdesk secrets set {secret}" in log, log
        r = lexdesk(front, "ask", "--matter", "M", "Is there a notice period?")
        assert r.returncode != 0 and f"lexdesk secrets set {secret}" in r.stderr, (r.returncode, r.stderr)

    for t in (_store, _front, _cli, _missing):
        t()


if __name__ == "__main__":
    sys.exit(main())
