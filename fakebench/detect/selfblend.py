"""Self-blended fakes made from one real face: the training data of the artifacts detector.

A swapped face is pasted into its frame: the blending boundary and the colour/resolution mismatch
inside it are the artifacts (FWA, Li & Lyu 2019; Face X-ray, Li et al. 2020). Self-blended images
(SBI, Shiohara & Yamasaki 2022) make such fakes from real faces only:

- ``sbi``: the face blended with a colour- and sharpness-jittered, slightly shifted/scaled copy of
  itself, through the landmark hull, elastically deformed and blurred, at a random blend ratio;
- ``fwa``: the face shrunk (x0.2-0.5), blurred and grown back (the resolution an autoencoder gives),
  pasted through the same kind of mask.

``self_blend`` returns the fake with its blend weights (``mask``: non-zero exactly where the fake
may differ from the source) and the Face X-ray boundary ``4 m (1 - m)`` of the soft mask ``m``.

A fake is never the real face again: crops whose landmarks give no face hull (a ``faces extract
--no-landmarks`` export, broken landmarks) are refused (``NoFaceError``; ``blendable`` says which
crops of a set can be used, and why not), and a draw that changes fewer than ``MIN_CHANGED`` of the
pixels (an empty or tiny mask, a flat or black face) is drawn again, ``TRIES`` times at most.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from fakebench.errors import NoFaceError

Kind = Literal["sbi", "fwa"]
RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)  # SBI's blend ratios: fully pasted faces are the common case
MIN_FACE_AREA = 0.02  # share of the crop the landmark hull covers at least (an aligned face covers ~30-50 %)
MIN_CHANGED = 0.005  # share of the pixels a fake changes at least; a draw that changes less is no fake
CHANGE_LEVEL = 2  # a pixel counts as changed when a channel moved by at least this much (1 is rounding)
TRIES = 4  # draws of a fake before the face is given up as unblendable (a flat or black face)
NO_LANDMARKS = "no 68 face landmarks"
TINY_HULL = f"landmark hull under {MIN_FACE_AREA:.0%} of the crop"


@dataclass(frozen=True)
class Blend:
    image: np.ndarray  # uint8 (S,S,3) RGB, the self-blended face
    mask: np.ndarray  # float32 (S,S) blend weight of the altered copy, in [0, 1]
    boundary: np.ndarray  # float32 (S,S) 4 m (1 - m) of the soft mask before the ratio, in [0, 1]
    kind: str
    ratio: float
    redrawn: int = 0  # draws thrown away before this one because they changed (nearly) nothing


def hull_mask(landmarks: np.ndarray, size: int) -> np.ndarray:
    """``float32 (S,S)``: 1 inside the convex hull of the 68 landmarks (crop pixels), else 0."""
    mask = np.zeros((size, size), np.uint8)
    points = np.round(landmarks[np.isfinite(landmarks).all(1)]).astype(np.int32)
    if len(points) >= 3:
        cv2.fillConvexPoly(mask, cv2.convexHull(points), 1)
    return mask.astype(np.float32)


def blendable(landmarks: np.ndarray, size: int) -> tuple[np.ndarray, dict[str, int]]:
    """Which crops the self-blend can use: ``landmarks`` ``float (N,68,2)`` in crop pixels (NaN unknown),
    crops ``size`` px. Returns ``bool (N,)`` and the count of unusable crops per reason (``NO_LANDMARKS``:
    fewer than 3 known points; ``TINY_HULL``: a hull under ``MIN_FACE_AREA`` of the crop)."""
    landmarks = np.asarray(landmarks, np.float32).reshape(-1, 68, 2)
    known = np.isfinite(landmarks).all(-1).sum(-1) >= 3
    area = np.array([hull_mask(m, size).mean() if k else 0.0 for m, k in zip(landmarks, known)])
    ok = known & (area >= MIN_FACE_AREA)
    reasons = {NO_LANDMARKS: int((~known).sum()), TINY_HULL: int((known & ~ok).sum())}
    return ok, {k: v for k, v in reasons.items() if v}


def changed_share(fake: np.ndarray, face: np.ndarray) -> float:
    """Share of the pixels of ``fake`` that differ from ``face`` (both ``uint8 (S,S,3)``) by ``CHANGE_LEVEL`` or more."""
    return float((np.abs(fake.astype(np.int16) - face.astype(np.int16)).max(-1) >= CHANGE_LEVEL).mean())


def random_mask(landmarks: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """The hull, grown or shrunk a little, elastically deformed and blurred: a soft mask in [0, 1]."""
    mask = hull_mask(landmarks, size)
    k = int(rng.integers(1, max(2, size // 20)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    mask = cv2.dilate(mask, kernel) if rng.random() < 0.5 else cv2.erode(mask, kernel)
    # elastic deformation: a smooth random displacement field of a few percent of the face
    amplitude, smooth = size * rng.uniform(0.01, 0.04), size * 0.08
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (size, size)).astype(np.float32), (0, 0), smooth)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (size, size)).astype(np.float32), (0, 0), smooth)
    scale = amplitude / max(float(np.abs(dx).max()), float(np.abs(dy).max()), 1e-6)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    mask = cv2.remap(mask, xx + dx * scale, yy + dy * scale, cv2.INTER_LINEAR, borderValue=0)
    sigma = size * rng.uniform(0.01, 0.05)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    top = float(mask.max())
    return np.clip(mask / top, 0, 1) if top > 0 else mask


def _jitter_copy(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """SBI's source-target mismatch: colour and sharpness jitter, then a small shift and scale."""
    size = face.shape[0]
    hsv = cv2.cvtColor(face, cv2.COLOR_RGB2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] *= rng.uniform(0.8, 1.2)
    hsv[..., 2] = hsv[..., 2] * rng.uniform(0.85, 1.15) + rng.uniform(-12, 12)
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    if rng.random() < 0.5:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.6, 1.6))
    else:
        out = cv2.addWeighted(out, 1.6, cv2.GaussianBlur(out, (0, 0), 1.2), -0.6, 0)
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.03, 0.03, 2) * size
    affine = cv2.getRotationMatrix2D((size / 2, size / 2), 0.0, scale)
    affine[:, 2] += shift
    out = cv2.warpAffine(out, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.clip(out, 0, 255)


def _low_resolution_copy(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """FWA's mismatch: the face at a fraction of its resolution, blurred, grown back."""
    size = face.shape[0]
    small = max(8, int(round(size * rng.uniform(0.2, 0.5))))
    out = cv2.resize(face, (small, small), interpolation=cv2.INTER_AREA)
    out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.0))
    return cv2.resize(out, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)


def self_blend(face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, kind: Kind = "sbi") -> Blend:
    """A fake made from one real face: ``face`` ``uint8 (S,S,3) RGB``, ``landmarks`` ``(68,2)`` in crop pixels.

    The fake differs from ``face`` on at least ``MIN_CHANGED`` of its pixels. ``NoFaceError`` when the
    landmarks give no face hull, or when ``TRIES`` draws all changed (nearly) nothing (a flat face).
    """
    size = face.shape[0]
    ok, why = blendable(landmarks[None], size)
    if not ok[0]:
        raise NoFaceError(f"cannot self-blend a {size}x{size} crop with {next(iter(why))}: expected the 68 landmarks "
                          "of the face in crop pixels; extract the faces with landmarks (not --no-landmarks)")
    for tries in range(TRIES):
        made = _draw(face, landmarks, rng, kind)
        if changed_share(made.image, face) >= MIN_CHANGED:
            return Blend(made.image, made.mask, made.boundary, made.kind, made.ratio, redrawn=tries)
    raise NoFaceError(f"{TRIES} self-blends of a {size}x{size} crop changed under {MIN_CHANGED:.1%} of its pixels "
                      "(a flat or black face?): it cannot be made into a fake")


def _draw(face: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, kind: Kind) -> Blend:
    """One draw of the fake (it may change nothing: ``self_blend`` checks)."""
    size = face.shape[0]
    altered = _jitter_copy(face, rng) if kind == "sbi" else _low_resolution_copy(face, rng)
    soft = random_mask(landmarks, size, rng)
    ratio = float(rng.choice(RATIOS)) if kind == "sbi" else 1.0
    weight = (soft * ratio).astype(np.float32)
    blended = weight[..., None] * altered + (1 - weight[..., None]) * face.astype(np.float32)
    image = np.where(weight[..., None] > 0, np.clip(np.round(blended), 0, 255), face).astype(np.uint8)
    return Blend(image, weight, (4 * soft * (1 - soft)).astype(np.float32), kind, ratio)
