"""Training pairs: a randomly warped face as input, the unwarped face as target.

The autoencoder only learns to swap because its input is distorted: asked to redraw a warped face
undistorted, a decoder must understand the face rather than copy pixels. This is the original
deepfakes method's 5x5 control-grid warp (each grid point jittered, the map interpolated in
between), preceded by a random similarity (rotate, scale, shift, flip) and followed by a colour
jitter that input and target share. Every random draw comes from the ``np.random.Generator`` passed in.

Faces are ``uint8 (R,R,3) RGB`` aligned crops; the pair comes out at the model's size ``S <= R``
(the warp runs at ``R``, then both images are area-downsampled, so the input carries no aliasing
the convert-time crops would not have).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakebench.errors import ConfigError
from fakebench.faces.align import umeyama


@dataclass(frozen=True)
class WarpConfig:
    rotate: float = 10.0  # degrees, uniform in +-rotate
    scale: float = 0.05  # zoom, uniform in 1 +- scale
    shift: float = 0.05  # fraction of the side, uniform in +-shift on each axis
    flip: float = 0.5  # probability of a horizontal flip
    grid_noise: float = 0.03  # std of each control point's jitter, fraction of the side (original: 5 px of 160)
    lightness: float = 0.15  # colour jitter: L contrast/brightness, fraction
    colour: float = 0.04  # colour jitter: a/b shift, fraction of the a/b range

    def __post_init__(self):
        for name in ("rotate", "scale", "shift", "flip", "grid_noise", "lightness", "colour"):
            if getattr(self, name) < 0:
                raise ConfigError(f"warp.{name} must be >= 0, got {getattr(self, name)}")
        if self.flip > 1:
            raise ConfigError(f"warp.flip is a probability in [0, 1], got {self.flip}")


def random_transform(image: np.ndarray, rng: np.random.Generator, config: WarpConfig) -> np.ndarray:
    """Rotate, zoom, shift and maybe flip ``image`` (any channels, side R) about its centre."""
    r = image.shape[0]
    angle = rng.uniform(-config.rotate, config.rotate)
    zoom = rng.uniform(1 - config.scale, 1 + config.scale)
    tx, ty = rng.uniform(-config.shift, config.shift, size=2) * r
    flip = rng.random() < config.flip
    mat = cv2.getRotationMatrix2D((r / 2 - 0.5, r / 2 - 0.5), angle, zoom)
    mat[:, 2] += (tx, ty)
    out = cv2.warpAffine(image, mat, (r, r), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    if out.ndim == 2 and image.ndim == 3:
        out = out[:, :, None]
    return out[:, ::-1] if flip else out


def colour_jitter(images: list[np.ndarray], rng: np.random.Generator, config: WarpConfig) -> list[np.ndarray]:
    """Shift lightness contrast/brightness and the a/b colour balance in LAB, the same way for each image.

    ``uint8 (H,W,3) RGB`` in and out; the contrast pivots on the first image's mean lightness.
    """
    contrast = 1 + rng.uniform(-config.lightness, config.lightness)
    brightness = rng.uniform(-config.lightness, config.lightness) * 50
    shift_ab = rng.uniform(-config.colour, config.colour, size=2) * 255
    if config.lightness == 0 and config.colour == 0:
        return images
    out, pivot = [], None
    for image in images:
        lab = cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        pivot = lab[:, :, 0].mean() if pivot is None else pivot
        lab[:, :, 0] = (lab[:, :, 0] - pivot) * contrast + pivot + brightness
        lab[:, :, 1:] += shift_ab
        rgb = cv2.cvtColor(lab, cv2.COLOR_LAB2RGB)
        out.append(np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8))
    return out


def random_warp(image: np.ndarray, rng: np.random.Generator, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """The original 5x5 control-grid warp: ``(warped, target)``, both of ``image``'s shape.

    The 5x5 grid spans the crop; each point moves by N(0, noise * R). The warped image samples the
    crop through the interpolated grid; the target is the crop under the similarity that best maps
    the jittered grid back onto the regular one (so input and target differ only by the warp's
    non-rigid part, as in the original).
    """
    r = image.shape[0]
    lin = np.linspace(-0.5, r - 0.5, 5)
    mapx = np.broadcast_to(lin, (5, 5)) + rng.normal(scale=noise * r, size=(5, 5))
    mapy = np.broadcast_to(lin, (5, 5)).T + rng.normal(scale=noise * r, size=(5, 5))
    # Upsample the 5x5 map so grid point 0 and 4 land on the first and last output pixel.
    big, cut = r * 5 // 4, r // 8
    interp_x = cv2.resize(mapx, (big, big))[cut:cut + r, cut:cut + r].astype(np.float32)
    interp_y = cv2.resize(mapy, (big, big))[cut:cut + r, cut:cut + r].astype(np.float32)
    warped = cv2.remap(image, interp_x, interp_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    src = np.stack([mapx.ravel(), mapy.ravel()], axis=-1)
    dst = np.stack(np.meshgrid(lin, lin), axis=-1).reshape(-1, 2)
    mat = umeyama(src, dst)
    target = cv2.warpAffine(image, mat, (r, r), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    return warped, target


def training_pair(face: np.ndarray, weight: np.ndarray | None, rng: np.random.Generator, config: WarpConfig,
                  size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One ``(input, target, weight)`` pair at ``size``: ``uint8 (S,S,3)``, ``uint8 (S,S,3)``, ``float32 (S,S)``.

    ``face``: ``uint8 (R,R,3) RGB`` aligned crop, ``R >= size``. ``weight``: ``uint8 (R,R)`` loss
    priority map (0 = weight 1, 255 = full priority) moved with the face, or None.
    """
    if face.dtype != np.uint8 or face.ndim != 3 or face.shape[0] != face.shape[1] or face.shape[2] != 3:
        raise ValueError(f"expected a square uint8 (R,R,3) RGB face, got {face.dtype} {face.shape}")
    if face.shape[0] < size:
        raise ValueError(f"face crop side {face.shape[0]} is smaller than the model size {size}")
    stack = face if weight is None else np.dstack([face, weight])
    stack = random_transform(np.ascontiguousarray(stack), rng, config)
    warped, target = random_warp(stack, rng, config.grid_noise)
    if face.shape[0] != size:
        warped = cv2.resize(warped, (size, size), interpolation=cv2.INTER_AREA)
        target = cv2.resize(target, (size, size), interpolation=cv2.INTER_AREA)
    # The jitter is per pixel, so it runs after downsampling (4x cheaper) with one draw for both.
    target_rgb, warped_rgb = colour_jitter([np.ascontiguousarray(target[:, :, :3]), np.ascontiguousarray(warped[:, :, :3])],
                                           rng, config)
    w = np.ones((size, size), np.float32) if weight is None else target[:, :, 3].astype(np.float32) / 255.0
    return warped_rgb, target_rgb, w
