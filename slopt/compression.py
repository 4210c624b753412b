"""Activation compressor of split fine-tuning: Top-K sparsification, unbiased stochastic
quantisation to q bits and lossless coding of the position mask and the values, with a decoder.

Spec: ``shared/papers/sft-two-timescale.md`` Section 3.4 (pipeline recovered from the paper's
abstract; every detail reconstructed):

1. **Top-K**: keep the K = ceil(theta * E) largest-magnitude entries of the tensor, zero the rest.
2. **Stochastic quantisation (Eq. 7a)**: per scale group (default: the kept entries of one token,
   i.e. one row of the last axis) m = max |v|, s_q = 2^(q-1) - 1, Delta = m / s_q, u = |v| / Delta,
   l = floor(u), Q(v) = sign(v) * Delta * (l + xi) with xi ~ Bernoulli(u - l). Unbiased:
   E[Q(v) | v] = v. Each kept value is sent as 1 sign bit + a (q-1)-bit level index; the scale m is
   sent as fp32 per group (the header).
3. **Lossless coding of the mask**: gap (run-length) coding with Golomb-Rice codes (quotients in
   unary, remainders in k bits, two streams so that both directions are numpy-vectorised), or a
   stdlib byte codec (``zlib`` / ``lzma``) on the bit-packed mask, for comparison. When the mask is
   denser than half, the complement is coded; when sending every value is cheaper than mask + kept
   values (theta >= theta_c of Section 3.4), the dense tensor is quantised and no mask is sent
   (the clipped form of Eq. 7).

The size model of Eq. 7 (``eq7_bits``) predicts the encoded size: E * min(theta q + H2(theta), q)
+ header. With Golomb-Rice coding the measured size is within a few per cent of it on i.i.d.
activations (spec Section 3.4); a generic byte compressor on the raw mask is not.

numpy only; ``torch`` tensors of any floating dtype are accepted (bfloat16 and float16 widened
exactly to float32), as are numpy float16/32/64 arrays.

Mask coders and their measured overhead over E H2(theta) (i.i.d. Gaussian activations, the
Top-K mask of a random subset; ``tests/test_compression.py`` asserts the bounds): ``rans`` (the
default, a binary range coder) 0.3-0.9 % for E = 16 x 197 x 768 and theta in [0.01, 0.5]; ``golomb``
(gap + Golomb-Rice with Kiely's parameter) 0.1-4.1 %, worst near theta = 0.38 where the best
power-of-two parameter is coarse; zlib / lzma far above.
"""

from __future__ import annotations

import lzma
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from slopt.errors import ValidationError
from slopt.validate import check_int, check_scalar

__all__ = [
    "binary_entropy",
    "eq7_bits",
    "theta_critical",
    "topk_mask",
    "stochastic_quantize",
    "dequantize",
    "golomb_rice_encode",
    "golomb_rice_decode",
    "rans_encode",
    "rans_decode",
    "Encoded",
    "encode",
    "decode",
    "compress_roundtrip",
]

_MAGIC = b"SFTC"
_CODECS = ("golomb", "zlib", "lzma", "rans")
_VALUE_CODECS = ("raw", "zlib", "lzma")


# --------------------------------------------------------------------------- size model (Eq. 7)
def binary_entropy(u: float | np.ndarray) -> np.ndarray:
    """H2(u) = -u log2 u - (1-u) log2 (1-u) in bits (0 at u = 0 and u = 1)."""
    u = np.asarray(u, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(u > 0, u * np.log2(np.where(u > 0, u, 1.0)), 0.0) \
            - np.where(u < 1, (1 - u) * np.log2(np.where(u < 1, 1 - u, 1.0)), 0.0)
    return h


def eq7_bits(n_elements: int | float, theta: float | np.ndarray, q: int, header_bits: float = 0.0,
             clip: bool = True) -> np.ndarray:
    """Compressed size of Eq. 7 in bits: E * min(theta q + H2(theta), q) + S_hdr.

    ``clip=False`` gives the unclipped E * (theta q + H2(theta)) + S_hdr.
    """
    per = np.asarray(theta, dtype=float) * q + binary_entropy(theta)
    if clip:
        per = np.minimum(per, q)
    return n_elements * per + header_bits


def theta_critical(q: int) -> float:
    """theta_c with H2(theta_c) = q (1 - theta_c): above it Eq. 7 is flat (no mask is sent)."""
    from scipy.optimize import brentq

    # on (0.5, 1) the function H2(t) - q (1 - t) goes from 1 - q/2 (<= 0 for q >= 2) to 0^+;
    # its root below 1 is theta_c (the root at t = 1 is excluded by the bracket)
    f = lambda t: float(binary_entropy(t)) - q * (1 - t)  # noqa: E731
    if q <= 2:
        return 0.5
    return float(brentq(f, 0.5, 1 - 1e-12 if f(1 - 1e-12) > 0 else 1 - 1e-15))


# --------------------------------------------------------------------------- 1. Top-K
def _as_array(x: Any) -> np.ndarray:
    """The tensor as float32 numpy: torch tensors of any floating dtype (bfloat16 and float16, the
    usual LLM activation types, are widened exactly; numpy has no bfloat16) and numpy arrays of
    float16/32/64 (or an ``ml_dtypes`` bfloat16 array, which numpy casts)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu()
        if x.is_floating_point():
            x = x.float()                     # bf16 / fp16 -> fp32 is exact
        x = x.numpy()
    arr = np.asarray(x, dtype=np.float32)
    if arr.size == 0:
        raise ValidationError("activation tensor is empty", "x")
    if not np.isfinite(arr).all():
        i = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
        raise ValidationError(f"activation tensor has a non-finite entry at flat index {i} "
                              f"({arr.ravel()[i]!r})", "x")
    return arr


def topk_mask(x: np.ndarray, theta: float) -> np.ndarray:
    """Boolean mask of the K = ceil(theta * E) largest-magnitude entries (ties broken by index)."""
    theta = check_scalar("theta", theta, lo=0.0, hi=1.0, lo_open=True)
    flat = np.abs(np.asarray(x).ravel())
    k = min(flat.size, max(1, math.ceil(theta * flat.size - 1e-9)))
    mask = np.zeros(flat.size, dtype=bool)
    if k == flat.size:
        mask[:] = True
    else:
        mask[np.argpartition(-flat, k - 1)[:k]] = True
    return mask.reshape(np.shape(x))


# --------------------------------------------------------------------------- 2. quantisation (Eq. 7a)
def stochastic_quantize(values: np.ndarray, group: np.ndarray, n_groups: int, q: int,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Unbiased stochastic quantisation of Eq. 7a.

    Parameters
    ----------
    values : the kept values (1-D)
    group : group index of every value (0..n_groups-1); one fp32 scale per group
    q : bits per value including the sign (q >= 2)
    rng : numpy Generator (the Bernoulli draws)

    Returns
    -------
    codes : uint32 array, sign bit (MSB of the q bits) and level index l + xi in {0..2^(q-1)-1}
    scales : float32 array of length n_groups, the per-group maximum magnitude m
    """
    q = check_int("q", q, lo=2, hi=24)
    s_q = 2 ** (q - 1) - 1
    v = np.asarray(values, dtype=np.float64)
    scales = np.zeros(n_groups, dtype=np.float64)
    np.maximum.at(scales, group, np.abs(v))
    scales32 = scales.astype(np.float32)
    # fp32 storage rounds m; round it *up* so that |v| / Delta never exceeds s_q (spec Eq. 7a)
    low = scales32.astype(np.float64) < scales
    scales32[low] = np.nextafter(scales32[low], np.float32(np.inf))
    delta = scales32.astype(np.float64)[group] / s_q
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(delta > 0, np.abs(v) / delta, 0.0)
    lvl = np.floor(u)
    xi = rng.random(u.shape) < (u - lvl)
    idx = np.minimum(lvl + xi, s_q).astype(np.uint32)
    sign = (v < 0).astype(np.uint32)
    return (sign << np.uint32(q - 1)) | idx, scales32


def dequantize(codes: np.ndarray, group: np.ndarray, scales: np.ndarray, q: int) -> np.ndarray:
    """Inverse map of the codes: sign * Delta * index (float64)."""
    s_q = 2 ** (q - 1) - 1
    idx = (codes & np.uint32(s_q)).astype(np.float64)
    sign = np.where((codes >> np.uint32(q - 1)) & np.uint32(1), -1.0, 1.0)
    return sign * idx * scales.astype(np.float64)[group] / s_q


# --------------------------------------------------------------------------- 3. lossless coding
def _pack_fixed(vals: np.ndarray, width: int) -> np.ndarray:
    """Bits of ``vals`` (each ``width`` bits, MSB first) as a flat uint8 0/1 array."""
    if width == 0 or vals.size == 0:
        return np.zeros(0, dtype=np.uint8)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return ((vals.astype(np.uint64)[:, None] >> shifts) & np.uint64(1)).astype(np.uint8).ravel()


def _unpack_fixed(bits: np.ndarray, width: int, n: int) -> np.ndarray:
    if width == 0 or n == 0:
        return np.zeros(n, dtype=np.uint64)
    b = bits[: n * width].reshape(n, width).astype(np.uint64)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    return (b << shifts).sum(axis=1)


def golomb_rice_encode(gaps: np.ndarray, k: int) -> tuple[bytes, bytes]:
    """Golomb-Rice code of non-negative integers with parameter 2^k, as two bit streams.

    The quotients ``g >> k`` go in unary (that many 1-bits and a 0) to the first stream, the
    remainders in ``k`` bits to the second; the total is the classic code length
    sum(g >> k) + n (1 + k) bits, and both directions are vectorised.
    """
    g = np.asarray(gaps, dtype=np.int64)
    quo = g >> k
    n = g.size
    total = int(quo.sum()) + n
    unary = np.ones(total, dtype=np.uint8)
    ends = np.cumsum(quo + 1) - 1          # position of each terminating 0
    unary[ends] = 0
    rem = _pack_fixed((g & ((1 << k) - 1)).astype(np.uint64), k)
    return np.packbits(unary).tobytes(), np.packbits(rem).tobytes()


def golomb_rice_decode(unary: bytes, rem: bytes, k: int, n: int) -> np.ndarray:
    """Inverse of :func:`golomb_rice_encode` for ``n`` integers."""
    u = np.unpackbits(np.frombuffer(unary, dtype=np.uint8))
    zeros = np.flatnonzero(u == 0)[:n]
    quo = np.diff(np.concatenate([[-1], zeros])) - 1
    r = _unpack_fixed(np.unpackbits(np.frombuffer(rem, dtype=np.uint8)), k, n).astype(np.int64)
    return (quo.astype(np.int64) << k) | r


def _rice_parameter(mean_gap: float) -> int:
    """Near-optimal Rice parameter for geometric gaps of the given mean (Kiely 2004 rule)."""
    if mean_gap <= 0:
        return 0
    p = 1.0 / (1.0 + mean_gap)             # success probability of the geometric law
    golden = (math.sqrt(5) - 1) / 2
    # Kiely, "Selecting the Golomb parameter in Rice coding", IPN PR 42-159 (2004), Eq. (6)
    return max(0, 1 + int(math.floor(math.log2(math.log(golden) / math.log(1 - p))))) if p < 1 else 0


# rANS (range asymmetric numeral systems, Duda 2013; byte-wise form of Giesen's ``rans_byte``):
# 32-bit states in [2^16, 2^32), 16-bit output words, probabilities quantised to 2^16. Static
# binary model P(1) = count / n (the decoder recomputes it from the header's count). ``lanes``
# interleaved states run in lock-step so each step is one numpy operation over the lanes; words are
# emitted in one stream in lane order and read back in the exact reverse order.
_RANS_L = 1 << 16
_RANS_PB = 16


def _rans_freq(count: int, n: int) -> int:
    """Quantised frequency f1 of the 1-symbol out of 2^16 (1 <= f1 <= 2^16 - 1)."""
    return min((1 << _RANS_PB) - 1, max(1, round(count / max(n, 1) * (1 << _RANS_PB))))


def _rans_lanes(n: int) -> int:
    return int(min(64, max(1, n // 8192)))


def rans_encode(bits: np.ndarray, count: int | None = None) -> tuple[bytes, bytes]:
    """Binary rANS code of a 0/1 array under the static model P(1) = count / n.

    Returns (words, states): the 16-bit output words and the lanes' final 32-bit states. The
    length is n H2(count / n) bits up to the quantisation of P(1) to 2^-16, plus 32 bits per lane
    and at most 16 bits per lane of flushing (measured overheads: ``docs/sft.md``)."""
    b = np.asarray(bits, dtype=bool).ravel()
    n = b.size
    count = int(b.sum()) if count is None else count
    f1 = _rans_freq(count, n)
    f = np.array([(1 << _RANS_PB) - f1, f1], dtype=np.uint64)
    c = np.array([0, (1 << _RANS_PB) - f1], dtype=np.uint64)
    lanes = _rans_lanes(n)
    steps = -(-n // lanes)
    pad = np.zeros(steps * lanes, dtype=bool)
    pad[:n] = b
    sym = pad.reshape(steps, lanes).astype(np.intp)
    valid = (np.arange(steps * lanes) < n).reshape(steps, lanes)
    x = np.full(lanes, _RANS_L, dtype=np.uint64)
    out: list[np.ndarray] = []
    for t in range(steps - 1, -1, -1):
        s_t, v = sym[t], valid[t]
        fs, cs = f[s_t], c[s_t]
        xmax = (np.uint64(_RANS_L >> _RANS_PB) << np.uint64(16)) * fs
        emit = v & (x >= xmax)
        if emit.any():
            out.append((x[emit] & np.uint64(0xFFFF)).astype(np.uint16))
            x[emit] >>= np.uint64(16)
        xn = ((x // fs) << np.uint64(_RANS_PB)) + (x % fs) + cs
        x = np.where(v, xn, x)
    words = np.concatenate(out) if out else np.zeros(0, np.uint16)
    return words.astype("<u2").tobytes(), x.astype("<u4").tobytes()


def rans_decode(words: bytes, states: bytes, n: int, count: int) -> np.ndarray:
    """Inverse of :func:`rans_encode`: the n bits (bool array)."""
    f1 = _rans_freq(count, n)
    c1 = (1 << _RANS_PB) - f1
    lanes = _rans_lanes(n)
    steps = -(-n // lanes)
    x = np.frombuffer(states, dtype="<u4").astype(np.uint64).copy()
    w = np.frombuffer(words, dtype="<u2").astype(np.uint64)[::-1]
    pos = 0
    out = np.zeros(steps * lanes, dtype=bool).reshape(steps, lanes)
    mask_pb = np.uint64((1 << _RANS_PB) - 1)
    for t in range(steps):
        v = np.arange(lanes) + t * lanes < n
        slot = x & mask_pb
        s1 = slot >= np.uint64(c1)
        fs = np.where(s1, np.uint64(f1), np.uint64(c1))
        cs = np.where(s1, np.uint64(c1), np.uint64(0))
        xn = fs * (x >> np.uint64(_RANS_PB)) + slot - cs
        x = np.where(v, xn, x)
        out[t] = s1 & v
        need = np.flatnonzero(v & (x < np.uint64(_RANS_L)))
        if need.size:
            need = need[::-1]                  # words come back in reverse emission (lane) order
            x[need] = (x[need] << np.uint64(16)) | w[pos: pos + need.size]
            pos += need.size
    return out.ravel()[:n]


def _encode_mask(mask_flat: np.ndarray, codec: str) -> tuple[int, list[bytes], dict[str, int]]:
    """Encode a flat boolean mask; returns (flags, streams, ints)."""
    n = mask_flat.size
    ones = int(mask_flat.sum())
    complement = ones > n - ones
    m = ~mask_flat if complement else mask_flat
    if codec == "golomb":
        pos = np.flatnonzero(m)
        gaps = np.diff(np.concatenate([[-1], pos])) - 1
        k = _rice_parameter((n - pos.size) / max(pos.size, 1))
        s1, s2 = golomb_rice_encode(gaps, k)
        return int(complement), [s1, s2], {"k": k, "count": int(pos.size)}
    if codec == "rans":
        words, states = rans_encode(m)
        return int(complement), [words, states], {"k": 0, "count": int(m.sum())}
    packed = np.packbits(m).tobytes()
    comp = zlib.compress(packed, 9) if codec == "zlib" else lzma.compress(packed, preset=9 | lzma.PRESET_EXTREME)
    return int(complement), [comp], {"k": 0, "count": int(m.sum())}


def _decode_mask(n: int, flags: int, streams: list[bytes], ints: dict[str, int], codec: str) -> np.ndarray:
    if codec == "golomb":
        gaps = golomb_rice_decode(streams[0], streams[1], ints["k"], ints["count"])
        pos = np.cumsum(gaps + 1) - 1
        m = np.zeros(n, dtype=bool)
        m[pos] = True
    elif codec == "rans":
        m = rans_decode(streams[0], streams[1], n, ints["count"])
    else:
        raw = zlib.decompress(streams[0]) if codec == "zlib" else lzma.decompress(streams[0])
        m = np.unpackbits(np.frombuffer(raw, dtype=np.uint8))[:n].astype(bool)
    return ~m if flags else m


@dataclass
class Encoded:
    """An encoded activation tensor.

    ``payload`` is the complete byte string (self-describing: shape, q, codecs, streams);
    ``bits`` breaks its size down: mask, values, scales (the S_hdr of Eq. 7) and framing.
    """

    payload: bytes
    bits: dict[str, int]

    @property
    def nbytes(self) -> int:
        return len(self.payload)

    @property
    def total_bits(self) -> int:
        return 8 * len(self.payload)


def encode(x: Any, theta: float, q: int = 4, *, seed: int | np.random.Generator | None = None,
           codec: str = "rans", value_codec: str = "raw", allow_dense: bool = True) -> Encoded:
    """Compress an activation tensor: Top-K (keep ratio ``theta``), stochastic q-bit quantisation
    (one fp32 scale per row of the last axis, i.e. per token), lossless coding.

    Parameters
    ----------
    x : array-like or torch tensor, any shape (last axis = hidden dimension)
    theta : keep ratio in (0, 1]
    q : bits per kept value including the sign (2..24)
    seed : seed or Generator of the stochastic rounding; ``None`` (default) draws fresh randomness
        on every call (unbiased rounding needs independent draws), an int reproduces a payload
    codec : mask coder: ``"rans"`` (binary range coder, within 1 % of E H2(theta) for E >= 10^5,
        default), ``"golomb"`` (gap + Golomb-Rice, 0.1-4.1 % above), ``"zlib"`` or ``"lzma"``
    value_codec : ``"raw"`` (q bits per value, as Eq. 7 assumes), ``"zlib"`` or ``"lzma"``
    allow_dense : send all E values and no mask when that is smaller (clipped Eq. 7)
    """
    arr = _as_array(x)
    theta = check_scalar("theta", theta, lo=0.0, hi=1.0, lo_open=True)
    q = check_int("q", q, lo=2, hi=24)
    if codec not in _CODECS:
        raise ValidationError(f"codec {codec!r}: choose one of {_CODECS}", "codec")
    if value_codec not in _VALUE_CODECS:
        raise ValidationError(f"value_codec {value_codec!r}: choose one of {_VALUE_CODECS}", "value_codec")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    shape = arr.shape
    row = shape[-1] if arr.ndim else 1
    flat = arr.ravel()
    n = flat.size
    n_groups = n // row
    mask = topk_mask(flat, theta)
    flags, mstreams, ints = _encode_mask(mask, codec)
    mask_bits = 8 * sum(len(s) for s in mstreams)
    kept = int(mask.sum())
    dense = allow_dense and kept * q + mask_bits >= n * q
    if dense:                               # clipped Eq. 7: quantise every entry, no mask
        sel = np.arange(n)
        values = np.where(mask, flat, 0.0)
        mstreams, flags, ints = [], 2, {"k": 0, "count": kept}
        mask_bits = 0
    else:
        sel = np.flatnonzero(mask)
        values = flat[sel]
    group = sel // row
    codes, scales = stochastic_quantize(values, group, n_groups, q, rng)
    vbytes = np.packbits(_pack_fixed(codes.astype(np.uint64), q)).tobytes()
    if value_codec == "zlib":
        vbytes = zlib.compress(vbytes, 9)
    elif value_codec == "lzma":
        vbytes = lzma.compress(vbytes, preset=9)
    sbytes = scales.astype("<f4").tobytes()
    streams = mstreams + [vbytes, sbytes]
    meta = {"shape": list(shape), "q": q, "codec": _CODECS.index(codec), "vcodec": _VALUE_CODECS.index(value_codec),
            "flags": flags, "k": ints["k"], "count": ints["count"], "kept": len(values)}
    head = struct.pack("<4sB", _MAGIC, len(shape)) + struct.pack(f"<{len(shape)}Q", *shape) \
        + struct.pack("<BBBBBQQQ", q, meta["codec"], meta["vcodec"], flags, ints["k"], ints["count"],
                      len(values), len(streams)) \
        + struct.pack(f"<{len(streams)}Q", *[len(s) for s in streams])
    payload = head + b"".join(streams)
    return Encoded(payload, {"mask": mask_bits, "values": 8 * len(vbytes), "scales": 8 * len(sbytes),
                             "framing": 8 * len(head), "kept": len(values), "dense": int(dense)})


def decode(enc: Encoded | bytes) -> np.ndarray:
    """Decode a payload of :func:`encode`: the dense tensor (float64) with the dequantised kept
    values at their positions and zeros elsewhere."""
    buf = enc.payload if isinstance(enc, Encoded) else bytes(enc)
    magic, nd = struct.unpack_from("<4sB", buf, 0)
    if magic != _MAGIC:
        raise ValidationError("payload is not an SFT compressor payload (bad magic)", "payload")
    off = 5
    shape = struct.unpack_from(f"<{nd}Q", buf, off)
    off += 8 * nd
    q, ci, vi, flags, k, count, kept, ns = struct.unpack_from("<BBBBBQQQ", buf, off)
    off += struct.calcsize("<BBBBBQQQ")
    lens = struct.unpack_from(f"<{ns}Q", buf, off)
    off += 8 * ns
    streams = []
    for ln in lens:
        streams.append(buf[off: off + ln])
        off += ln
    codec, vcodec = _CODECS[ci], _VALUE_CODECS[vi]
    n = int(np.prod(shape)) if nd else 1
    row = shape[-1] if nd else 1
    if flags == 2:
        sel = np.arange(n)
    else:
        mask = _decode_mask(n, flags, streams[:-2], {"k": k, "count": count}, codec)
        sel = np.flatnonzero(mask)
    vbytes = streams[-2]
    if vcodec == "zlib":
        vbytes = zlib.decompress(vbytes)
    elif vcodec == "lzma":
        vbytes = lzma.decompress(vbytes)
    codes = _unpack_fixed(np.unpackbits(np.frombuffer(vbytes, dtype=np.uint8)), q, kept).astype(np.uint32)
    scales = np.frombuffer(streams[-1], dtype="<f4")
    out = np.zeros(n, dtype=np.float64)
    out[sel] = dequantize(codes, sel // row, scales, q)
    return out.reshape(shape)


def compress_roundtrip(x: Any, theta: float, q: int = 4, **kw: Any) -> tuple[np.ndarray, Encoded]:
    """``(decode(encode(x, ...)), encoded)``: the tensor the server sees, and the payload."""
    enc = encode(x, theta, q, **kw)
    return decode(enc), enc
