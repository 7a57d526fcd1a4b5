"""Face detection with MTCNN (facenet-pytorch 2.5.3's networks; their weights ship in the wheel, no network).

The cascade runs through ``faces.mtcnn.Cascade``: facenet-pytorch's computation with the resizing
vectorised and the networks channels-last, 1.6x faster on 2 CPU cores with the same boxes (to 1e-4
px on the sample media), so face caches written by either stay valid.

Frames in: ``uint8 (T,H,W,3) RGB`` of one size. Out: one ``Detections`` per frame, faces sorted
largest first, boxes ``float32 (K,4)`` as ``x1,y1,x2,y2`` pixels, 5 points ``float32 (K,5,2)`` in
the order eye (image left), eye (image right), nose, mouth left, mouth right.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fakebench.runtime import resolve_device


@dataclass(frozen=True)
class Detections:
    """The faces found in one frame, largest first."""

    boxes: np.ndarray  # float32 (K,4) x1,y1,x2,y2
    scores: np.ndarray  # float32 (K,)
    points: np.ndarray  # float32 (K,5,2)

    def __len__(self) -> int:
        return len(self.boxes)

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2), np.float32))


def min_face_size_for(height: int, width: int, fraction: float) -> int:
    """MTCNN's smallest face, scaled to the frame: ``fraction`` of the short side, at least 20 px.

    A larger minimum means fewer image-pyramid levels, so detection is faster on large frames.
    """
    return max(20, int(round(fraction * min(height, width))))


class FaceDetector:
    """Batched MTCNN that keeps faces scoring at least ``min_score``.

    Frames whose longer side exceeds ``max_side`` are shrunk for detection (results are mapped
    back to full-resolution pixels). The network is built on first use, not here.
    """

    def __init__(self, *, device: str = "auto", min_score: float = 0.9, min_face_fraction: float = 0.08,
                 max_side: int = 720, batch_size: int = 16):
        self.device = device
        self.min_score = min_score
        self.min_face_fraction = min_face_fraction
        self.max_side = max_side
        self.batch_size = batch_size
        self._mtcnn = None

    def settings(self) -> dict:
        """What changes the detections (part of every face-cache key)."""
        return {"detector": "mtcnn-facenet-pytorch-2.5.3", "min_score": self.min_score,
                "min_face_fraction": self.min_face_fraction, "max_side": self.max_side}

    def _model(self):
        if self._mtcnn is None:  # one cascade for every frame size: the smallest face is a detect argument
            from fakebench.faces.mtcnn import Cascade

            self._mtcnn = Cascade(device=resolve_device(self.device))
        return self._mtcnn

    def detect(self, frames: np.ndarray) -> list[Detections]:
        """Detect faces in ``uint8 (T,H,W,3) RGB`` frames (a single ``(H,W,3)`` frame is accepted)."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 (T,H,W,3) RGB frames, got {frames.dtype} {frames.shape}")
        h, w = frames.shape[1:3]
        scale = min(1.0, self.max_side / max(h, w))
        if scale < 1.0:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            frames = np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
            scale_x, scale_y = w / size[0], h / size[1]
        else:
            scale_x = scale_y = 1.0
        model = self._model()
        min_face = min_face_size_for(*frames.shape[1:3], self.min_face_fraction)
        out: list[Detections] = []
        for start in range(0, len(frames), self.batch_size):
            for found, points in model.detect(frames[start:start + self.batch_size], min_face):
                out.append(self._keep(found[:, :4], found[:, 4], points, scale_x, scale_y))
        return out

    def _keep(self, boxes, probs, points, sx: float, sy: float) -> Detections:
        if len(boxes) == 0:
            return Detections.empty()
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        probs = np.asarray(probs, np.float32).reshape(-1)
        points = np.asarray(points, np.float32).reshape(-1, 5, 2)
        keep = probs >= self.min_score
        boxes, probs, points = boxes[keep], probs[keep], points[keep]
        boxes *= np.array([sx, sy, sx, sy], np.float32)
        points *= np.array([sx, sy], np.float32)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = np.argsort(-area, kind="stable")
        return Detections(boxes[order], probs[order], points[order])
