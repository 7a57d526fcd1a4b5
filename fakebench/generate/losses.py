"""The reconstruction loss: L1 + (1 - SSIM), with an optional eye/mouth priority.

L1 keeps colours right, SSIM (pytorch-msssim, Gaussian window 11) keeps local structure (edges,
texture), which plain L1 lets go blurry. The priority map, drawn from the 68 landmarks, weighs the
L1 term more around the eyes and the mouth, the parts people look at and the parts that carry
expression (faceswap's eye/mouth multipliers). SSIM stays unweighted.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from pytorch_msssim import ssim

from fakebench.faces.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE


def priority_map(landmarks: np.ndarray, side: int) -> np.ndarray:
    """``uint8 (side,side)``: 255 on the eyes and the mouth (hulls of their landmarks, widened), else 0.

    ``landmarks``: ``(68,2)`` in the crop's pixels. NaN landmarks (none found) give an empty map.
    """
    out = np.zeros((side, side), np.uint8)
    if not np.isfinite(landmarks).all():
        return out
    for part in (LEFT_EYE, RIGHT_EYE, slice(MOUTH.start, 60)):
        cv2.fillConvexPoly(out, cv2.convexHull(np.round(landmarks[part]).astype(np.int32)), 255)
    grow = max(1, side // 32)
    return cv2.dilate(out, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))


def swap_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
              priority: float = 0.0) -> torch.Tensor:
    """Scalar loss of ``pred`` against ``target`` (both ``float (B,3,S,S)`` in [0,1], computed in fp32).

    ``weight``: ``float (B,S,S)`` in [0,1] (the priority map); each pixel's L1 counts
    ``1 + priority * weight`` times, normalised so the L1 term stays on the same scale.
    """
    pred, target = pred.float(), target.float()
    l1 = (pred - target).abs().mean(1)
    if weight is not None and priority > 0:
        mult = 1.0 + priority * weight.float()
        l1 = (l1 * mult).sum() / mult.sum()
    else:
        l1 = l1.mean()
    return l1 + (1.0 - ssim(pred, target, data_range=1.0, size_average=True))


def l1_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error in [0,1] per image: ``float (B,)``."""
    return (pred.float() - target.float()).abs().flatten(1).mean(1)
