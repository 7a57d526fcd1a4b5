"""The provenance mark: an invisible, keyed spread-spectrum pattern in the luma of the swapped face.

What it is. A tile of ``TILE`` x ``TILE`` pixels, repeated over the frame (frame pixel ``(x, y)``
gets tile pixel ``((x - ax) mod TILE, (y - ay) mod TILE)``, ``(ax, ay)`` the face's ``anchor``: the
centre of its aligned crop, so the pattern moves with the face as the swapped pixels do, and the
encoder's motion compensation carries it from frame to frame), added to R, G and B alike (a luma
change, no chroma change) inside the swap mask only, at ``STRENGTH`` grey levels RMS (PSNR 40 dB
against the unmarked swap). The tile is a sum of plane waves of the tile's own frequencies: the
*sync* ring (``SYNC_BAND``: periods 4.6-9.1 px, two thirds of the energy) carries the key's signs;
the finer *payload* ring (``PAYLOAD_BAND``) carries the payload's 140 coded bits (the key's signs
times the bit, keyed interleaving). The key is public (``KEY``): anyone can check a file, and anyone
who knows the key can also remove or forge the mark. The payload is the same in every frame of a
fake (a pattern that changes from frame to frame is what H.264 discards first), so it names the
segment's first frame, not each frame's.

Reading (``read``, ``pool``) works from aligned face crops and the face track's affines (the crop
pixel -> frame pixel map), so a detector's own face track is all it needs. The crop's luma is
whitened (minus a Gaussian blur, divided by its local RMS), weighted by the inner-face ellipse and
summed by tile position counted from the face's anchor as this track finds it ("folded"); in the
folded tile's spectrum F the sync statistic at shift ``d`` is

    z(d) = sum_f w_f Re(s_f conj(F_f) e^(-2 pi i f.d / TILE)) / sqrt(sum_f w_f^2 |F_f|^2)

over the sync frequencies f (``s_f`` the key's +-1 +- 1j signs, ``w_f`` one over the mean power of
f's ring). Without the mark F does not depend on the key, so z(d) is a Rademacher sum in the key's
signs with unit variance and P(z(d) >= t) <= exp(-t^2 / 2) whatever the picture (Hoeffding). The
face found again lands a few pixels from where it was marked, so a frame is marked when the best
z within ``NEAR`` px of the anchor (half-pixel steps) reaches ``THRESHOLD``, or the best z at any
integer shift and each resize factor in ``SCALES`` reaches ``SEARCH_THRESHOLD``: by the union bound
over every hypothesis tried, at most 4.6e-6 of frames without the mark are called marked. Several
frames of one video pool their folded tiles (the sum is again such a statistic). The payload is
read where the sync peaks, by a Viterbi decoder (K = 7, rate 1/2) and a CRC-16.

Arrays: frames ``uint8 (H,W,3) RGB``; masks ``uint8 (H,W)`` 0/255; crops ``uint8 (N,S,S,3) RGB``;
affines ``float32 (N,2,3)`` frame -> crop pixels (``faces.align``).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache

import cv2
import numpy as np

KEY = "fakebench provenance mark v1"  # public: checking a file needs no secret
FORMAT = "fakebench-mark/1"  # the pattern and how it is read: change it with any constant below
TILE = 64  # the pattern repeats every TILE frame pixels across and down
SYNC_BAND = (7.0, 14.0)  # ring of tile frequencies (cycles per tile) of the sync: periods 4.6-9.1 px
PAYLOAD_BAND = (14.0, 22.0)  # of the payload: periods 2.9-4.6 px (more room, less robust; see BENCHMARKS.md)
SYNC_SHARE = 2 / 3  # of the mark's energy
STRENGTH = 2.5  # RMS luma change inside the mask, grey levels (PSNR 40.2 dB before rounding)
NEAR = 4  # px: how far from the anchor to look first (a face found again lands 0-4 px off, a blurry one farther)
THRESHOLD = 6.0  # best z near the anchor at or above which a frame is marked: P <= 289 exp(-18) = 4.4e-6 unmarked
SEARCH_THRESHOLD = 7.0  # best z at any integer shift and scale: P <= 8192 exp(-24.5) = 1.9e-7 without the mark
SCALES = (1.0, 0.5)  # resize factors tried (the frame as marked, and at half size)
HIGHPASS = 2.0  # sigma (frame px) of the Gaussian subtracted from the luma before reading
LOCAL = 2.0  # sigma (frame px) of the local RMS each whitened pixel is divided by (edges count less)
SUPPORT = ((0.5, 0.72), (0.36, 0.32))  # ellipse (centre, semi-axes) in template units: the inner face
PAYLOAD_BITS = 48
CRC_BITS = 16  # a CRC-8 let 9 misreads of ~2,000 through as payloads (1 in 256 passes by chance; BENCHMARKS.md)


# -- the payload --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Payload:
    """What a marked fake says about itself, 16 bits each: who made the face (``run``: a hash of the run folder, or
    of the donor video for a graphics swap), from what (``checkpoint``: the first 4 hex digits of the checkpoint's,
    or the donor's, sha256) and where the segment starts in the driving video (``start``, modulo 65536)."""

    run: int
    checkpoint: int
    start: int

    def __post_init__(self):
        for name in ("run", "checkpoint", "start"):
            value = getattr(self, name)
            if not 0 <= value < 1 << 16:
                raise ValueError(f"payload {name} must fit in 16 bits, got {value}")

    @classmethod
    def make(cls, run_id: str, checkpoint_sha: str, start: int) -> Payload:
        """From the run's id (any string, hashed), a sha256 in hex (its first 4 digits) and the first frame."""
        run = int(hashlib.sha256(run_id.encode()).hexdigest()[:4], 16)
        return cls(run, int(checkpoint_sha[:4], 16), int(start) % (1 << 16))

    def bits(self) -> np.ndarray:
        """``uint8 (64,)``: run, checkpoint, start (16 bits each, most significant first), CRC-16."""
        data = np.array([(v >> (15 - k)) & 1 for v in (self.run, self.checkpoint, self.start) for k in range(16)],
                        np.uint8)
        return np.concatenate([data, crc16(data)])

    @classmethod
    def from_bits(cls, bits: np.ndarray) -> Payload | None:
        """The payload, or None when the CRC does not match (a misread)."""
        bits = np.asarray(bits, np.uint8)
        data, check = bits[:PAYLOAD_BITS], bits[PAYLOAD_BITS:]
        if not np.array_equal(crc16(data), check):
            return None
        return cls(*(int("".join(map(str, data[16 * k:16 * k + 16])), 2) for k in range(3)))

    def as_dict(self) -> dict:
        return {"run": f"{self.run:04x}", "checkpoint": f"{self.checkpoint:04x}", "start_frame": self.start}


def crc16(bits: np.ndarray) -> np.ndarray:
    """CRC-16/CCITT (polynomial 0x1021, initial 0xFFFF) of a bit string, as ``uint8 (16,)`` bits."""
    reg = 0xFFFF
    for b in np.asarray(bits, np.uint8):
        reg ^= int(b) << 15
        reg = ((reg << 1) ^ 0x1021) & 0xFFFF if reg & 0x8000 else (reg << 1) & 0xFFFF
    return np.array([(reg >> (15 - k)) & 1 for k in range(16)], np.uint8)


def payload_for(made_by: dict, start: int) -> Payload:
    """The payload of a fake from its method's manifest entries (``describe()``: ``run`` and ``checkpoint``, or
    ``donor``) and the segment's first frame."""
    if "donor" in made_by:
        return Payload.make(made_by["donor"]["path"], made_by["donor"]["sha256"], start)
    return Payload.make(made_by["run"], made_by["checkpoint"]["sha256"], start)


def manifest_entry(payload: Payload, strength: float = STRENGTH) -> dict:
    """What the manifest records about a fake's mark (``settings.mark``; ``false`` when made with ``--no-mark``)."""
    return {"payload": payload.as_dict(), "key": KEY, "strength": strength, "tile": TILE}


# -- rate-1/2 convolutional code (K = 7, generators 133/171 octal, the NASA/802.11 code) -----------
_K = 7
_G = (0o133, 0o171)


def _parity(x: np.ndarray) -> np.ndarray:
    x = x.copy()
    out = np.zeros_like(x)
    while x.any():
        out ^= x & 1
        x >>= 1
    return out


@lru_cache(maxsize=1)
def _trellis() -> tuple[np.ndarray, np.ndarray]:
    """For state s (last 6 bits) and input b: next state and the two output bits, ``(64, 2)`` and ``(64, 2, 2)``."""
    states = np.arange(1 << (_K - 1))
    nxt = np.zeros((len(states), 2), np.int64)
    out = np.zeros((len(states), 2, 2), np.int64)
    for b in (0, 1):
        reg = (b << (_K - 1)) | states  # newest bit on top
        nxt[:, b] = reg >> 1
        for j, g in enumerate(_G):
            out[:, b, j] = _parity(reg & g)
    return nxt, out


def encode(bits: np.ndarray) -> np.ndarray:
    """``uint8 (2 (n + 6),)`` coded bits of ``n`` bits (six zero tail bits end in state 0)."""
    nxt, out = _trellis()
    state, coded = 0, []
    for b in np.concatenate([np.asarray(bits, np.int64), np.zeros(_K - 1, np.int64)]):
        coded.extend(out[state, b])
        state = nxt[state, b]
    return np.asarray(coded, np.uint8)


def viterbi(soft: np.ndarray) -> np.ndarray:
    """Most likely ``n`` bits from ``2 (n + 6)`` soft values (positive = bit 1, magnitude = confidence)."""
    _, out = _trellis()
    soft = np.asarray(soft, np.float64).reshape(-1, 2)
    states = np.arange(1 << (_K - 1))
    bit = states >> (_K - 2)  # the input that leads into each state (its newest bit)
    pred = np.stack([2 * (states & ((1 << (_K - 2)) - 1)), 2 * (states & ((1 << (_K - 2)) - 1)) + 1], 1)
    sign = (2 * out[pred, bit[:, None]] - 1).astype(np.float64)  # (64 new states, 2 predecessors, 2 outputs)
    metric = np.full(len(states), -np.inf)
    metric[0] = 0.0
    back = np.zeros((len(soft), len(states)), np.int64)
    for t, pair in enumerate(soft):
        gain = metric[pred] + sign @ pair  # (64, 2)
        choice = np.argmax(gain, 1)
        back[t] = pred[states, choice]
        metric = gain[states, choice]
    state, bits = 0, []
    for t in range(len(soft) - 1, -1, -1):
        bits.append(state >> (_K - 2))
        state = back[t, state]
    return np.asarray(bits[::-1][: len(soft) - (_K - 1)], np.uint8)


# -- the keyed pattern ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """The key's pattern, over the tile's half spectrum (``rfft2`` layout, flattened): ``signs`` ``complex128``
    (+-1 +- 1j, the sign of each frequency's cosine and sine), ``sync`` (indices), ``payload`` (indices) and
    ``bit`` (the coded bit each payload frequency carries), ``radius`` (cycles per tile) and ``freqs`` of every frequency."""

    signs: np.ndarray
    sync: np.ndarray
    payload: np.ndarray
    bit: np.ndarray
    radius: np.ndarray
    freqs: tuple[np.ndarray, np.ndarray]  # (ky, kx) of every frequency


@lru_cache(maxsize=4)
def layout(key: str = KEY) -> Layout:
    ky, kx = np.meshgrid(np.fft.fftfreq(TILE, 1 / TILE), np.fft.rfftfreq(TILE, 1 / TILE), indexing="ij")
    radius = np.hypot(kx, ky).ravel()
    # each real pattern once: the half plane kx > 0 (the kx = 0 and Nyquist columns are left out)
    unique = ((kx > 0) & (kx < TILE // 2)).ravel()
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big"))
    signs = rng.choice([-1.0, 1.0], radius.size) + 1j * rng.choice([-1.0, 1.0], radius.size)
    sync = np.flatnonzero(unique & (radius >= SYNC_BAND[0]) & (radius < SYNC_BAND[1]))
    payload = rng.permutation(np.flatnonzero(unique & (radius >= PAYLOAD_BAND[0]) & (radius < PAYLOAD_BAND[1])))
    n_coded = 2 * (PAYLOAD_BITS + CRC_BITS + _K - 1)
    if len(payload) < n_coded:
        raise AssertionError(f"{len(payload)} payload frequencies for {n_coded} coded bits")  # the constants above
    return Layout(signs, sync, payload, np.arange(len(payload)) % n_coded, radius, (ky.ravel(), kx.ravel()))


@lru_cache(maxsize=64)
def _spectrum(payload: Payload, key: str = KEY) -> np.ndarray:
    """``complex128 (TILE,TILE//2+1)``: the half spectrum of one period of the mark of ``payload``, scaled so the
    tile has RMS 1."""
    lay = layout(key)
    coef = np.zeros(lay.radius.size, np.complex128)
    coef[lay.sync] = lay.signs[lay.sync] * np.sqrt(SYNC_SHARE / len(lay.sync))
    coded = 2.0 * encode(payload.bits()) - 1.0
    coef[lay.payload] = lay.signs[lay.payload] * coded[lay.bit] * np.sqrt((1 - SYNC_SHARE) / len(lay.payload))
    coef = coef.reshape(TILE, TILE // 2 + 1)
    return coef / np.fft.irfft2(coef, s=(TILE, TILE)).std()


def tile(payload: Payload, anchor: tuple[float, float] = (0.0, 0.0), key: str = KEY) -> np.ndarray:
    """``float32 (TILE,TILE)``: the mark's tile moved so that its origin lies on frame point ``anchor`` (x, y;
    sub-pixel, by a phase shift of its plane waves): frame pixel (x, y) gets ``tile[y mod TILE, x mod TILE]``."""
    ky, kx = layout(key).freqs
    ramp = np.exp(-2j * np.pi * (kx * anchor[0] + ky * anchor[1]) / TILE).reshape(TILE, TILE // 2 + 1)
    return np.fft.irfft2(_spectrum(payload, key) * ramp, s=(TILE, TILE)).astype(np.float32)


def anchor(affine: np.ndarray, size: int) -> np.ndarray:
    """``float64 (2,)``: the frame point (x, y) at the centre of a face's aligned crop (template unit (0.5, 0.5),
    whatever the crop's size and margin), where the mark's tile is put and looked for."""
    return cv2.invertAffineTransform(np.asarray(affine, np.float64)) @ np.array([size / 2, size / 2, 1.0])


# -- embedding ------------------------------------------------------------------------------------
def embed(frame: np.ndarray, mask: np.ndarray, payload: Payload, at: tuple[float, float] = (0.0, 0.0), *,
          strength: float = STRENGTH, key: str = KEY) -> np.ndarray:
    """``frame`` with the mark of ``payload`` added to its luma where ``mask`` is set (a new array; the frame
    itself when the mask is empty). ``at``: the face's ``anchor`` in this frame, so the pattern moves with the
    face from frame to frame (as the swapped pixels do, which lets the encoder's motion compensation carry it)."""
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3 or mask.shape != frame.shape[:2]:
        raise ValueError(f"expected a uint8 (H,W,3) RGB frame and its (H,W) mask, got {frame.dtype} {frame.shape} "
                         f"and {mask.shape}")
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return frame
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    period = tile(payload, at, key)
    field = period[np.arange(y0, y1)[:, None] % TILE, np.arange(x0, x1)[None, :] % TILE]
    delta = np.where(mask[y0:y1, x0:x1] > 0, field * np.float32(strength), np.float32(0))
    out = frame.copy()
    region = out[y0:y1, x0:x1].astype(np.float32) + delta[:, :, None]
    out[y0:y1, x0:x1] = np.clip(np.rint(region), 0, 255).astype(np.uint8)
    return out


# -- reading --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reading:
    """The mark's verdict on one frame (or on several pooled): ``z`` the best sync statistic near where the face
    says the pattern is (``shift``, ``scale``), ``z_search`` the best anywhere, the ``payload`` read at the best
    (None: not marked, or a misread) and ``p``, a bound on the chance that a frame without the mark reads as
    strongly (``ALPHA`` at the thresholds)."""

    z: float
    z_search: float
    shift: tuple[float, float]
    scale: float
    payload: Payload | None
    p: float

    @property
    def marked(self) -> bool:
        return self.z >= THRESHOLD or self.z_search >= SEARCH_THRESHOLD

    @property
    def confidence(self) -> float:
        """How sure the mark is there, in [0, 1]: 1 / (1 + p / ALPHA), 0.5 exactly at the thresholds (the odds a
        frame marked as often as the bound allows by chance would have); about 5e-6 for a frame without the mark
        (p near 1), 1 - 1e-6 for p = 5e-12."""
        return 1.0 / (1.0 + self.p / ALPHA)

    def as_dict(self) -> dict:
        return {"marked": self.marked, "confidence": round(self.confidence, 6), "p": float(f"{self.p:.3g}"),
                "z": round(self.z, 2), "z_search": round(self.z_search, 2), "shift": list(self.shift),
                "scale": self.scale, "payload": self.payload.as_dict() if self.payload else None}


def fold(crop: np.ndarray, affine: np.ndarray, margin: float, scales: tuple[float, ...] = SCALES) -> np.ndarray:
    """``float64 (len(scales),TILE,TILE)``: the whitened luma of one aligned crop, summed by tile position.

    ``affine`` maps frame pixels to the crop's (the face track's); each crop pixel is added (bilinear) to the tile
    position of the frame pixel it came from, counted from the face's ``anchor`` and divided by each scale (a copy
    resized by that factor since it was marked: its pixels and its anchor both scaled). Whitening: the luma minus a
    Gaussian blur (``HIGHPASS``), divided by its local RMS (``LOCAL``) plus one grey level, weighted by the tapered
    face ellipse ``SUPPORT``.
    """
    size = crop.shape[0]
    affine = np.asarray(affine, np.float64)
    y = crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    px = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))  # crop pixels per frame pixel
    if not px > 0:
        raise ValueError("a crop with a degenerate affine (a sample without a face?): read only crops that hold a face")
    y = y - cv2.GaussianBlur(y, (0, 0), HIGHPASS * px)
    y = y / (np.sqrt(cv2.GaussianBlur(y * y, (0, 0), LOCAL * px)) + 1.0)
    v = (y * _support(size, float(margin))).ravel().astype(np.float64)
    inv = cv2.invertAffineTransform(affine)
    ax, ay = anchor(affine, size)
    cx, cy = np.meshgrid(np.arange(size, dtype=np.float64), np.arange(size, dtype=np.float64))
    xf = (inv[0, 0] * cx + inv[0, 1] * cy + inv[0, 2] - ax).ravel()
    yf = (inv[1, 0] * cx + inv[1, 1] * cy + inv[1, 2] - ay).ravel()
    out = np.zeros((len(scales), TILE * TILE))
    for k, scale in enumerate(scales):
        tx, ty = (xf / scale) % TILE, (yf / scale) % TILE
        ix, iy = np.floor(tx).astype(np.int64), np.floor(ty).astype(np.int64)
        fx, fy = tx - ix, ty - iy
        for dx, dy, w in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            out[k] += np.bincount(((iy + dy) % TILE) * TILE + (ix + dx) % TILE, v * w, TILE * TILE)
    return out.reshape(len(scales), TILE, TILE)


@lru_cache(maxsize=8)
def _support(size: int, margin: float) -> np.ndarray:
    """``float32 (S,S)``: 1 inside the face ellipse of a ``size`` crop with ``margin``, 0 from 1.2 times it."""
    u = np.arange(size) * (1.0 + 2.0 * margin) / size - margin
    (cx, cy), (ax, ay) = SUPPORT
    r = np.sqrt(((u[None, :] - cx) / ax) ** 2 + ((u[:, None] - cy) / ay) ** 2)
    return np.clip((1.2 - r) / 0.2, 0.0, 1.0).astype(np.float32)


def _ring_weights(f: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """One over the mean power of each frequency's ring (``f`` the folded spectrum at those frequencies)."""
    power = np.abs(f) ** 2
    rings = np.round(radius).astype(np.int64)
    mean = np.bincount(rings, power) / np.maximum(np.bincount(rings), 1)
    return 1.0 / np.maximum(mean[rings], 1e-12)


def sync_z(folded: np.ndarray, offset: tuple[float, float] = (0.0, 0.0), key: str = KEY) -> np.ndarray:
    """``float64 (TILE,TILE)``: the sync statistic ``z(d)`` of one folded tile at every cyclic shift
    ``d + offset`` (``d`` integer ``(dy, dx)``; ``[0, 0]`` with no offset: the pattern exactly at the anchor).
    See the module docstring."""
    lay = layout(key)
    f = np.fft.rfft2(folded).ravel()[lay.sync]
    w = _ring_weights(f, lay.radius[lay.sync])
    norm = math.sqrt(float(np.sum(w * w * np.abs(f) ** 2)))
    if norm == 0.0:  # a blank crop: nothing to read
        return np.zeros((TILE, TILE))
    ky, kx = lay.freqs
    full = np.zeros(TILE * (TILE // 2 + 1), np.complex128)
    full[lay.sync] = w * np.conj(lay.signs[lay.sync]) * f * np.exp(
        2j * np.pi * (kx[lay.sync] * offset[1] + ky[lay.sync] * offset[0]) / TILE)
    # sum_f Re(s_f conj(F_f) e^{-2 pi i f.d / TILE}) = sum_f Re(conj(s_f) F_f e^{2 pi i f.d / TILE}): a pattern moved
    # by d from the anchor peaks at d. irfft2 gives (2 / TILE^2) times that sum over the half plane (kx > 0 only).
    return np.fft.irfft2(full.reshape(TILE, TILE // 2 + 1), s=(TILE, TILE)) * (TILE * TILE / 2) / norm


def _moved(folded: np.ndarray, shift: tuple[float, float], key: str = KEY) -> np.ndarray:
    """The flattened half spectrum of a folded tile, its pattern moved back by ``shift`` to the anchor."""
    ky, kx = layout(key).freqs
    return np.fft.rfft2(folded).ravel() * np.exp(2j * np.pi * (kx * shift[1] + ky * shift[0]) / TILE)


def decode(folded: np.ndarray, shift: tuple[float, float] = (0.0, 0.0), key: str = KEY) -> Payload | None:
    """The payload of one folded tile read at ``shift`` (where the sync is strongest), None when the CRC fails."""
    return _decode(_moved(folded, shift, key), key)


def _decode(spec: np.ndarray, key: str = KEY) -> Payload | None:
    lay = layout(key)
    f = spec[lay.payload]
    values = np.real(np.conj(lay.signs[lay.payload]) * f) * _ring_weights(f, lay.radius[lay.payload])
    return Payload.from_bits(viterbi(np.bincount(lay.bit, values, 2 * (PAYLOAD_BITS + CRC_BITS + _K - 1))))


# the hypotheses a reading tries: near the anchor, shifts within +-NEAR px in half-pixel steps (at scale 1)
# (the face found again lands within about 2 px of where it was marked), and every integer shift anywhere
_STEPS = np.arange(-2 * NEAR, 2 * NEAR + 1) / 2
N_NEAR = len(_STEPS) ** 2
N_SEARCH = len(SCALES) * TILE * TILE
# the two tests' shares of the false-positive bound ALPHA (4.6e-6): a reading's p is the smaller of the two bounds
# divided by its share (a weighted Bonferroni), so p <= ALPHA exactly when one of the thresholds is reached
_BOUND_NEAR, _BOUND_SEARCH = N_NEAR * math.exp(-THRESHOLD ** 2 / 2), N_SEARCH * math.exp(-SEARCH_THRESHOLD ** 2 / 2)
ALPHA = _BOUND_NEAR + _BOUND_SEARCH


def read_folded(folded: np.ndarray, key: str = KEY) -> Reading:
    """The verdict on a ``(len(SCALES),TILE,TILE)`` folded tile (one frame's, or the sum of several)."""
    near = (-1e9, (0.0, 0.0), 0)  # half-pixel shifts within NEAR of the anchor, at scale 1
    far = (-1e9, (0.0, 0.0), 0)  # every integer shift at every scale
    whole = np.arange(-NEAR, NEAR + 1)
    for k in range(len(SCALES)):
        for oy, ox in ((0.0, 0.0), (0.0, 0.5), (0.5, 0.0), (0.5, 0.5)) if k == 0 else ((0.0, 0.0),):
            z = sync_z(folded[k], (oy, ox), key)
            if oy == ox == 0.0:
                dy, dx = np.unravel_index(int(np.argmax(z)), z.shape)
                if z[dy, dx] > far[0]:
                    far = (float(z[dy, dx]), (float(_wrap(dy)), float(_wrap(dx))), k)
            if k == 0:
                ys, xs = whole[whole + oy <= NEAR], whole[whole + ox <= NEAR]
                window = z[np.ix_(ys % TILE, xs % TILE)]
                j, i = np.unravel_index(int(np.argmax(window)), window.shape)
                if window[j, i] > near[0]:
                    near = (float(window[j, i]), (float(ys[j] + oy), float(xs[i] + ox)), 0)
    z, z_search = near[0], far[0]
    p = min(1.0, N_NEAR * math.exp(-max(z, 0.0) ** 2 / 2) * ALPHA / _BOUND_NEAR,
            N_SEARCH * math.exp(-max(z_search, 0.0) ** 2 / 2) * ALPHA / _BOUND_SEARCH)
    best = near if near[0] >= THRESHOLD or near[0] >= far[0] else far
    reading = Reading(z, z_search, best[1], float(SCALES[best[2]]), None, p)
    if not reading.marked:
        return reading
    return Reading(z, z_search, best[1], reading.scale, decode(folded[best[2]], best[1], key), p)


def _wrap(d: int) -> int:
    """A cyclic shift as the signed one nearest 0."""
    return d - TILE if d > TILE // 2 else d


def fold_all(crops: np.ndarray, affines: np.ndarray, margin: float) -> np.ndarray:
    """``float64 (N,len(SCALES),TILE,TILE)``: ``fold`` of every crop."""
    return np.stack([fold(c, a, margin) for c, a in zip(crops, affines)]) if len(crops) else \
        np.zeros((0, len(SCALES), TILE, TILE))


def read(crops: np.ndarray, affines: np.ndarray, margin: float, key: str = KEY) -> list[Reading]:
    """One ``Reading`` per aligned crop (``uint8 (N,S,S,3)``, with its ``(N,2,3)`` frame -> crop affines)."""
    return [read_folded(f, key) for f in fold_all(crops, affines, margin)]


def read_pooled(crops: np.ndarray, affines: np.ndarray, margin: float, key: str = KEY) -> Reading:
    """One ``Reading`` for several frames of one video (see ``pool``)."""
    return pool(fold_all(crops, affines, margin), key=key)


def pool(folded: np.ndarray, frames: list[Reading] | None = None, key: str = KEY) -> Reading:
    """One ``Reading`` for several frames of one video from their ``(N,len(SCALES),TILE,TILE)`` folded tiles (and
    their own readings, when already made).

    The sync statistic is that of the tiles summed (the pattern is the same in every frame of a fake and moves with
    the face, so it adds up while the faces do not; the sum is again a Rademacher sum in the key). The payload is the
    one most frames read on their own, else the one read from the marked frames' tiles summed after moving each by
    its own best shift (finer than the sync, the payload does not add up across frames whose anchors differ by a
    pixel); both are CRC-checked.
    """
    frames = [read_folded(f, key) for f in folded] if frames is None else frames
    reading = read_folded(folded.sum(0), key)
    if not reading.marked:
        return replace(reading, payload=None)
    own = Counter(r.payload for r in frames if r.payload is not None)
    if own:
        return replace(reading, payload=own.most_common(1)[0][0])
    marked = [(f[SCALES.index(r.scale)], r.shift) for f, r in zip(folded, frames) if r.marked]
    return replace(reading, payload=_decode(sum(_moved(f, shift, key) for f, shift in marked), key) if marked else None)
