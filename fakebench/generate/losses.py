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


FACE_LEVEL = 127  # value of the face hull in a ``face_map`` (eyes and mouth: 255, off the face: 0)


def face_map(landmarks: np.ndarray, side: int) -> np.ndarray:
    """``uint8 (side,side)``: 0 off the face, 127 on the landmark hull (widened by side/32), 255 on eyes and mouth.

    One map carries both the face region (for the masked loss) and the priority parts, so the warp
    moves them with the face as one channel; ``split_face_map`` turns it back into two weights.
    NaN landmarks give an all-face map (no landmarks: every pixel counts).
    """
    if not np.isfinite(landmarks).all():
        return np.full((side, side), FACE_LEVEL, np.uint8)
    hull = np.zeros((side, side), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(landmarks).astype(np.int32)), FACE_LEVEL)
    grow = max(1, side // 32)
    hull = cv2.dilate(hull, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return np.maximum(hull, priority_map(landmarks, side))


def split_face_map(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A warped ``face_map`` as ``float (B,S,S)`` in [0,1] (value / 255) -> ``(face, priority)``, each in [0,1]."""
    v = weight.float() * 255.0
    return (v / FACE_LEVEL).clamp(0, 1), ((v - FACE_LEVEL) / (255.0 - FACE_LEVEL)).clamp(0, 1)


def swap_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None,
              priority: float = 0.0, *, face: torch.Tensor | None = None, background: float = 1.0) -> torch.Tensor:
    """Scalar loss of ``pred`` against ``target`` (both ``float (B,3,S,S)`` in [0,1], computed in fp32).

    ``weight``: ``float (B,S,S)`` in [0,1] (the priority map); each pixel's L1 counts
    ``1 + priority * weight`` times, normalised so the L1 term stays on the same scale.
    ``face``: ``float (B,S,S)`` in [0,1], 1 on the face; off it, errors count ``background`` times in
    both terms (faceswap's penalized mask loss: the prediction is pulled towards the target there, so
    SSIM sees the face's own edges and the capacity goes to the face).
    """
    pred, target = focus(pred.float(), target.float(), face, background), target.float()
    l1 = (pred - target).abs().mean(1)
    if weight is not None and priority > 0:
        mult = 1.0 + priority * weight.float()
        l1 = (l1 * mult).sum() / mult.sum()
    else:
        l1 = l1.mean()
    return l1 + (1.0 - ssim(pred, target, data_range=1.0, size_average=True))


def focus(pred: torch.Tensor, target: torch.Tensor, face: torch.Tensor | None, background: float) -> torch.Tensor:
    """``pred`` pulled towards ``target`` off the face: there its errors count ``background`` times, in any term
    computed on the result (``face``: ``float (B,S,S)`` in [0,1]; None or ``background >= 1``: ``pred`` itself)."""
    if face is None or background >= 1:
        return pred
    keep = (background + (1.0 - background) * face.float())[:, None]
    return pred * keep + target * (1.0 - keep)


def l1_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error in [0,1] per image: ``float (B,)``."""
    return (pred.float() - target.float()).abs().flatten(1).mean(1)


class FeatureLoss(torch.nn.Module):
    """Perceptual term: L1 between ImageNet features of prediction and target, each stage relative to the target's size.

    The features are the first ``stages`` stages of EfficientNet-Lite0 with the ImageNet weights that
    ship in a pip package (offline); frozen, in eval mode. ``float (B,3,S,S)`` in [0,1] in, scalar out.
    """

    def __init__(self, stages: int = 3):
        super().__init__()
        from fakebench.backbones import create_backbone

        net = create_backbone("tf_efficientnet_lite0")
        self.stem = torch.nn.Sequential(net.conv_stem, net.bn1)
        self.blocks = torch.nn.ModuleList(net.blocks[:stages])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def train(self, mode: bool = True):  # always frozen
        return super().train(False)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x = (torch.cat([pred, target]) - self.mean) / self.std
        x = self.stem(x)
        total = 0.0
        for block in self.blocks:
            x = block(x)
            p, t = x.chunk(2)
            total = total + (p - t.detach()).abs().mean() / (t.detach().abs().mean() + 1e-6)
        return total / len(self.blocks)
