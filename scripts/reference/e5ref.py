#!/usr/bin/env python3
"""e5ref - independent numpy reference for multilingual-e5-small in the "E5S1" container.

Pure numpy (plus the HF `tokenizers` library for tokenisation). Written from the
format description, not from any engine's code; it is deliberately slow and plain.

Numerics: Q4_0 weights are dequantised exactly (f16 scale * (q - 8)) and the whole
forward pass is computed in float64 (no activation quantisation). Outputs are
returned as float64 and written to JSON rounded to 7 significant digits.

Model (post-LN BERT / XLM-R encoder):
    x = LN_emb(word[id] + pos[i] + type[0])          # position ids i = 0..L-1 (see below)
    per layer:
        a = softmax(Q K^T / sqrt(d_head)) V            # per head, full attention inside a window
        x = LN_aln(x + ao(a))
        x = LN_oln(x + fo(gelu_erf(fi(x))))
    LN(v) = (v - mean) / sqrt(var + eps) * w + b     # biased variance, eps from the header
Position ids start at 0: the E5S1 converter stored HF rows 2..513 of XLM-R's
position table (HF uses padding_idx + 1 + i), so file row i == HF position i + 2.

Embedding recipe (windowing): see `window_ids` / `embed`.

CLI:
    python e5ref.py MODEL.e5s1 TOKENIZER.json [--role passage|query] [--overlap 64] TEXT...
prints, per text, the token count, number of windows and the first 8 vector components.
"""
from __future__ import annotations

import argparse
import math
import struct
import sys

import numpy as np

QK = 32  # Q4_0 block size


# --------------------------------------------------------------------------- format
def dequant_q4_0(raw: bytes, n: int) -> np.ndarray:
    """Dequantise n Q4_0 weights (n % 32 == 0) -> float32[n]."""
    nb = n // QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=nb * 18).reshape(nb, 18)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [nb, 1]
    qs = blocks[:, 2:]
    lo = (qs & 0x0F).astype(np.int8) - 8  # weights 0..15 of the block
    hi = (qs >> 4).astype(np.int8) - 8    # weights 16..31
    q = np.concatenate([lo, hi], axis=1).astype(np.float32)
    return (q * d).reshape(n)


class E5S1:
    """Parsed E5S1 file: header, tokenizer block, tensors."""

    def __init__(self, path: str):
        with open(path, "rb") as f:
            self.data = data = f.read()
        if data[:4] != b"E5S1":
            raise ValueError("bad magic")
        (self.version, self.hidden, self.layers, self.heads, self.intermediate, self.vocab,
         self.max_positions, self.type_vocab, self.eps, self.block_size) = struct.unpack_from(
            "<I7ifi", data, 4)
        o = 4 + 4 + 7 * 4 + 4 + 4
        self.n_pieces, self.bos, self.eos, self.pad, self.unk = struct.unpack_from("<5i", data, o)
        o += 20
        (bloblen,) = struct.unpack_from("<Q", data, o)
        o += 8
        offs = np.frombuffer(data, "<u4", self.n_pieces + 1, o)
        o += 4 * (self.n_pieces + 1)
        self.scores = np.frombuffer(data, "<f4", self.n_pieces, o)
        o += 4 * self.n_pieces
        blob = data[o:o + bloblen]
        o += bloblen
        self.pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(self.n_pieces)]
        self.n_norm, norm_bytes = struct.unpack_from("<iI", data, o)
        o += 8
        self.norm = {}
        p = o
        for _ in range(self.n_norm):
            (cp,) = struct.unpack_from("<I", data, p)
            k = data[p + 4]
            self.norm[cp] = struct.unpack_from("<%dI" % k, data, p + 5)
            p += 5 + 4 * k
        o += norm_bytes
        (ndir,) = struct.unpack_from("<i", data, o)
        o += 4
        self.dir = {}
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", data, o)
            name = data[o + 2:o + 2 + nl].decode()
            o += 2 + nl
            dtype = data[o]
            count, off, nbytes = struct.unpack_from("<IQQ", data, o + 1)
            o += 21
            self.dir[name] = (dtype, count, off, nbytes)
        if self.block_size != QK:
            raise ValueError("block size %d unsupported" % self.block_size)

    def tensor(self, name: str, shape=None) -> np.ndarray:
        dtype, count, off, nbytes = self.dir[name]
        if dtype == 0:
            assert nbytes == 4 * count
            t = np.frombuffer(self.data, "<f4", count, off).astype(np.float32)
        elif dtype == 1:
            assert nbytes == count // QK * 18
            t = dequant_q4_0(self.data[off:off + nbytes], count)
        else:
            raise ValueError("unknown dtype %d for %s" % (dtype, name))
        return t.reshape(shape) if shape is not None else t

    def word_rows(self, ids) -> np.ndarray:
        """Dequantise only the needed rows of emb.word (Q4_0 [vocab, hidden])."""
        dtype, count, off, nbytes = self.dir["emb.word"]
        H = self.hidden
        assert dtype == 1 and count == self.vocab * H
        row_bytes = H // QK * 18
        return np.stack([dequant_q4_0(self.data[off + i * row_bytes: off + (i + 1) * row_bytes], H)
                         for i in ids])


# --------------------------------------------------------------------------- model
def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


class Model:
    def __init__(self, path: str):
        f = self.f = E5S1(path)
        H, FF = f.hidden, f.intermediate
        g = lambda n, s=None: f.tensor(n, s).astype(np.float64)
        self.pos = g("emb.pos", (f.max_positions, H))
        self.type0 = g("emb.type", (-1, H))[0]
        self.eln = (g("emb.ln.w"), g("emb.ln.b"))
        self.layers = []
        for l in range(f.layers):
            p = "l%d." % l
            L = {k: (g(p + k + ".w", (H, H)), g(p + k + ".b")) for k in ("q", "k", "v", "ao")}
            L["fi"] = (g(p + "fi.w", (FF, H)), g(p + "fi.b"))
            L["fo"] = (g(p + "fo.w", (H, FF)), g(p + "fo.b"))
            L["aln"] = (g(p + "aln.w"), g(p + "aln.b"))
            L["oln"] = (g(p + "oln.w"), g(p + "oln.b"))
            self.layers.append(L)

    def forward(self, ids) -> np.ndarray:
        """ids: one window incl. specials -> final hidden states float64[L, H]."""
        f = self.f
        L, H, nh = len(ids), f.hidden, f.heads
        hd = H // nh
        assert L <= f.max_positions
        x = f.word_rows(ids).astype(np.float64) + self.pos[:L] + self.type0
        x = layer_norm(x, *self.eln, f.eps)
        lin = lambda t, wb: t @ wb[0].T + wb[1]
        for ly in self.layers:
            q = lin(x, ly["q"]).reshape(L, nh, hd).transpose(1, 0, 2)
            k = lin(x, ly["k"]).reshape(L, nh, hd).transpose(1, 0, 2)
            v = lin(x, ly["v"]).reshape(L, nh, hd).transpose(1, 0, 2)
            s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)          # [nh, L, L]
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(L, H)
            x = layer_norm(x + lin(a, ly["ao"]), *ly["aln"], f.eps)
            x = layer_norm(x + lin(gelu(lin(x, ly["fi"])), ly["fo"]), *ly["oln"], f.eps)
        return x


# --------------------------------------------------------------------------- recipe
PREFIX = {"query": "query: ", "passage": "passage: "}


def load_tokenizer(path: str):
    from tokenizers import Tokenizer
    return Tokenizer.from_file(path)


def window_ids(tok, text: str, role: str, max_positions: int, overlap: int,
               bos: int, eos: int):
    """Return (content ids C, list of windows incl. bos/eos)."""
    prefix = PREFIX[role]
    C = tok.encode(prefix + text, add_special_tokens=False).ids
    # The prefix alone ends in a bare "▁" piece that, in real text, merges into
    # the first word; its trimmed form ("passage:") is what every text starts with,
    # and it is repeated at the head of every window.
    P = tok.encode(prefix.rstrip(), add_special_tokens=False).ids
    W = max_positions - 2
    if len(C) <= W:
        return C, [[bos] + C + [eos]]
    p = len(P) if C[:len(P)] == P else 0
    P = P[:p]
    body = C[p:]
    chunk = W - p
    stride = chunk - overlap
    if stride <= 0:
        raise ValueError("overlap %d too large for window of %d content tokens" % (overlap, chunk))
    wins, start = [], 0
    while True:
        wins.append([bos] + P + body[start:start + chunk] + [eos])
        if start + chunk >= len(body):
            break
        start += stride
    return C, wins


def embed(model: Model, tok, text: str, role: str = "passage", overlap: int = 64):
    """-> (unit vector float64[H], info dict with windows and token counts)."""
    f = model.f
    C, wins = window_ids(tok, text, role, f.max_positions, overlap, f.bos, f.eos)
    acc = np.zeros(f.hidden)
    total = 0
    for w in wins:
        v = model.forward(w).mean(0)   # mean pool over every token of the window (specials too)
        acc += len(w) * v
        total += len(w)
    v = acc / total
    v /= max(np.linalg.norm(v), 1e-12)
    return v, {"content_tokens": len(C), "windows": wins}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("tokenizer")
    ap.add_argument("--role", default="passage", choices=sorted(PREFIX))
    ap.add_argument("--overlap", type=int, default=64)
    ap.add_argument("text", nargs="+")
    a = ap.parse_args(argv)
    m, tok = Model(a.model), load_tokenizer(a.tokenizer)
    for t in a.text:
        v, info = embed(m, tok, t, a.role, a.overlap)
        print("content_tokens=%d windows=%d first8=%s" % (
            info["content_tokens"], len(info["windows"]), np.array2string(v[:8], precision=5)))


if __name__ == "__main__":
    sys.exit(main())
