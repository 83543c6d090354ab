#!/usr/bin/env bash
# Build the CPU server image (installers/server/Dockerfile) and check it for real: the image
# builds from the repository root, `lexdesk keys create` works in it, a container with the small
# default models in its /data volume becomes healthy (the image's HEALTHCHECK), and the official
# `openai` Python client gets models, a chat completion and embeddings through the published port;
# a wrong key gets 401; metrics answer with a metrics key. Needs Docker (a daemon) and the
# models of tests/run.sh (installers/dev/setup.sh fetches them).
#
# Not part of tests/run.sh: the release build inside the image takes most of an hour on 2 cores.
#   bash tests/docker/run.sh                 # build, then check
#   IMAGE=lexdesk-server:dev SKIP_BUILD=1 bash tests/docker/run.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
IMAGE="${IMAGE:-lexdesk-server:test}"
PORT="${PORT:-18080}"
models="${LEXDESK_MODELS_DIR:-$HOME/.cache/lexdesk/models}"
python="${LEXDESK_PY_VENV:-$HOME/.cache/lexdesk/venv-server}/bin/python"

if [[ -z "${SKIP_BUILD:-}" ]]; then
  DOCKER_BUILDKIT=1 docker build -f installers/server/Dockerfile -t "$IMAGE" .
fi

data="$(mktemp -d)"
name="lexdesk-check-$$"
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; docker run --rm -v "$data:/data" --entrypoint rm "$IMAGE" -rf /data/matters /data/server >/dev/null 2>&1 || true; rm -rf "$data"; }
trap cleanup EXIT
mkdir -p "$data/models"
for f in SmolLM2-135M-Instruct.Q4_1.gguf all-MiniLM-L6-v2-q8_0.gguf all-MiniLM-L6-v2.tokenizer.json; do
  cp "$models/$f" "$data/models/"
done
# The image runs as uid 10001: the volume must be its.
chmod -R a+rwX "$data"

key="$(docker run --rm -v "$data:/data" "$IMAGE" keys create check --scope read,ask --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
metrics_key="$(docker run --rm -v "$data:/data" "$IMAGE" keys create prometheus --scope metrics --json | "$python" -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
docker run -d --name "$name" -v "$data:/data" -p "127.0.0.1:$PORT:8080" "$IMAGE" >/dev/null

echo "waiting for the container to be healthy…" >&2
for _ in $(seq 1 120); do
  state="$(docker inspect -f '{{.State.Health.Status}}' "$name")"
  [[ "$state" == healthy ]] && break
  [[ "$(docker inspect -f '{{.State.Running}}' "$name")" == true ]] || { docker logs "$name"; exit 1; }
  sleep 2
done
[[ "$state" == healthy ]] || { docker logs "$name"; echo "not healthy: $state" >&2; exit 1; }

"$python" - "$PORT" "$key" "$metrics_key" <<'EOF'
import sys, urllib.request, urllib.error
from openai import OpenAI, AuthenticationError

port, key, metrics_key = sys.argv[1], sys.argv[2], sys.argv[3]
base = f"http://127.0.0.1:{port}"
client = OpenAI(base_url=base + "/v1", api_key=key)
ids = [m.id for m in client.models.list().data]
assert "SmolLM2-135M-Instruct.Q4_1" in ids, ids
reply = client.chat.completions.create(
    model="SmolLM2-135M-Instruct.Q4_1", messages=[{"role": "user", "content": "Say hello."}], max_tokens=8, temperature=0
)
assert reply.choices[0].message.content.strip(), reply
assert reply.usage.completion_tokens > 0, reply.usage
emb = client.embeddings.create(model="all-MiniLM-L6-v2-q8_0", input=["force majeure", "不可抗力"])
assert [len(d.embedding) for d in emb.data] == [384, 384], emb
try:
    OpenAI(base_url=base + "/v1", api_key="wrong").models.list()
    raise SystemExit("a wrong key was accepted")
except AuthenticationError:
    pass
req = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {metrics_key}"})
text = urllib.request.urlopen(req).read().decode()
assert "lexdesk_http_requests_total" in text, text[:500]
print(f"docker image: healthy; models {ids}; chat {reply.usage.completion_tokens} tokens; embeddings 2×384; wrong key 401; metrics ok")
EOF
