"""Similarity alignment of a face to a canonical 5-point template, and pasting it back.

Points are ``float32 (K,2)`` pixel ``(x, y)``; an affine is ``float32 (2,3)`` mapping frame pixels to
crop pixels (``crop = warpAffine(frame, M)``); crops are ``uint8 (S,S,3) RGB``.

The template is the widely used 5-point layout (eye centres, nose tip, mouth corners) of the
112x112 ArcFace crop, expressed in the unit square. ``margin`` widens the crop around it: 0 gives
the tight inner face, 0.25 adds a quarter of that width on every side (hair line, jaw, some
background: the blending boundary a detector looks for).
"""

from __future__ import annotations

import cv2
import numpy as np

# Eye centres (image left, image right), nose tip, mouth corners (left, right), unit square.
TEMPLATE_5 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float32,
) / 112.0
SIZES = (64, 128, 256)


def template(size: int, margin: float = 0.0) -> np.ndarray:
    """The 5 template points in pixels of a ``size`` x ``size`` crop with ``margin``."""
    if size < 8:
        raise ValueError(f"crop size must be at least 8 px, got {size}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    return ((TEMPLATE_5 - 0.5) / (1.0 + 2.0 * margin) + 0.5) * size


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation) taking ``src`` onto ``dst``.

    Umeyama (1991), without reflection. Returns the ``(2,3)`` affine.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two (K,2) point sets with K >= 2, got {src.shape} and {dst.shape}")
    mu_s, mu_d = src.mean(0), dst.mean(0)
    sc, dc = src - mu_s, dst - mu_d
    cov = dc.T @ sc / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1] = -1.0
    rot = u @ np.diag(d) @ vt
    var_s = (sc**2).sum() / len(src)
    scale = (s * d).sum() / var_s if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]]).astype(np.float32)


def invert_affine(affine: np.ndarray) -> np.ndarray:
    """The ``(2,3)`` affine that undoes ``affine`` (crop pixels back to frame pixels)."""
    return cv2.invertAffineTransform(np.asarray(affine, np.float64)).astype(np.float32)


def transform_points(points: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Apply a ``(2,3)`` affine to ``(..., 2)`` points."""
    points = np.asarray(points, np.float32)
    return points @ affine[:, :2].T + affine[:, 2]


def alignment_affine(points5: np.ndarray, size: int, margin: float = 0.0) -> np.ndarray:
    """The affine taking a face's 5 points onto the template of a ``size`` crop."""
    return umeyama(points5, template(size, margin))


def warp_face(frame: np.ndarray, affine: np.ndarray, size: int) -> np.ndarray:
    """Cut the ``size`` x ``size`` crop that ``affine`` maps the frame onto.

    A large face shrunk to a small crop is first low-passed and halved (pyrDown) so it does not alias.
    """
    affine = np.asarray(affine, np.float32).copy()
    scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
    if scale < 0.5:
        # Cut the region the crop comes from (with room for the blur kernel), then halve it with
        # pyrDown (Gaussian blur + decimation; output pixel i sits on input pixel 2i) until the
        # remaining warp scales by 0.5 or more. The region edge is the frame edge wherever the
        # crop reaches past the frame, so border reflection is unchanged.
        h, w = frame.shape[:2]
        corners = transform_points(np.array([[0, 0], [size, 0], [0, size], [size, size]], np.float32),
                                   invert_affine(affine))
        pad = int(4 / scale) + 2
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - pad, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + pad, (w, h))
        if x1 - x0 > 1 and y1 - y0 > 1:
            frame = frame[y0:y1, x0:x1]
            affine[:, 2] += affine[:, :2] @ np.array([x0, y0], np.float32)
            while scale < 0.5 and min(frame.shape[:2]) > 1:
                frame = cv2.pyrDown(frame)
                affine[:, :2] *= 2.0
                scale *= 2.0
    return cv2.warpAffine(frame, affine, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)


def align_face(frame: np.ndarray, points5: np.ndarray, size: int, margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Aligned crop and its affine: ``(uint8 (S,S,3) RGB, float32 (2,3))``."""
    affine = alignment_affine(points5, size, margin)
    return warp_face(frame, affine, size), affine


def paste_back(frame: np.ndarray, crop: np.ndarray, affine: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Put ``crop`` back where ``affine`` took it from, blended by ``mask`` (float (S,S) in [0,1]).

    Without a mask the whole crop square replaces the frame there. Returns a new frame; only the
    face's bounding region is warped, so this stays cheap on large frames.
    """
    h, w = frame.shape[:2]
    s = crop.shape[0]
    inv = invert_affine(affine)
    corners = transform_points(np.array([[0, 0], [s, 0], [0, s], [s, s]], np.float32), inv)
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    out = frame.copy()
    if x1 <= x0 or y1 <= y0:
        return out
    roi_inv = inv.copy()
    roi_inv[:, 2] -= (x0, y0)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpAffine(crop, roi_inv, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    alpha = np.ones((s, s), np.float32) if mask is None else np.asarray(mask, np.float32)
    alpha = cv2.warpAffine(alpha, roi_inv, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    region = out[y0:y1, x0:x1].astype(np.float32)
    a = alpha[:, :, None]
    out[y0:y1, x0:x1] = np.clip(region * (1.0 - a) + warped.astype(np.float32) * a + 0.5, 0, 255).astype(np.uint8)
    return out
