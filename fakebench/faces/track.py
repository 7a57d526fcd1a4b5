"""One face followed through a video: the ``FaceTrack`` record and the rule that picks the face.

The tracked face is the largest one in the first frame with a face; in later frames it is the
detection overlapping the previous tracked box most (IoU), or failing that the nearest one within
a face width. Other faces are not dropped silently: each frame records how many faces it had, and
their boxes are kept in ``others``.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fakebench.errors import MediaError
from fakebench.faces.align import invert_affine
from fakebench.faces.detector import Detections

NPZ_FORMAT = 1


def iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one ``(4,)`` box with each of ``(K,4)`` boxes (x1,y1,x2,y2)."""
    ix1 = np.maximum(box[0], boxes[:, 0])
    iy1 = np.maximum(box[1], boxes[:, 1])
    ix2 = np.minimum(box[2], boxes[:, 2])
    iy2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-6)


class LargestFaceTracker:
    """Feed it each frame's detections in order; it returns the index of the tracked face or -1."""

    def __init__(self, min_iou: float = 0.2, max_jump: float = 1.0):
        self.min_iou = min_iou
        self.max_jump = max_jump  # in face widths, when no detection overlaps the last box
        self.last: np.ndarray | None = None

    def update(self, det: Detections) -> int:
        if len(det) == 0:
            return -1
        choice = 0  # detections come largest first
        if self.last is not None:
            overlaps = iou(self.last, det.boxes)
            best = int(np.argmax(overlaps))
            if overlaps[best] >= self.min_iou:
                choice = best
            else:
                centres = (det.boxes[:, :2] + det.boxes[:, 2:]) / 2
                last_centre = (self.last[:2] + self.last[2:]) / 2
                width = max(self.last[2] - self.last[0], 1.0)
                jumps = np.linalg.norm(centres - last_centre, axis=1) / width
                nearest = int(np.argmin(jumps))
                if jumps[nearest] <= self.max_jump:
                    choice = nearest
        self.last = det.boxes[choice].copy()
        return choice


@dataclass
class FaceTrack:
    """The tracked face at each sampled frame of one video (or one image, ``fps == 0``).

    Per sampled frame ``i`` (arrays of length N): the source frame number ``frames[i]``,
    ``has_face[i]``, ``n_faces[i]`` (faces detected, tracked one included), ``boxes[i]`` (x1,y1,x2,y2
    px, NaN without a face), MTCNN ``scores[i]``, ``points5[i]`` (5,2) and ``landmarks[i]`` (68,2)
    in frame pixels, ``affines[i]`` (2,3) frame -> crop, and ``crops[i]`` ``uint8 (S,S,3) RGB``
    (zeros without a face). ``others`` is ``float32 (M,6)``: sample position, x1, y1, x2, y2, score of
    every face that was not tracked.
    """

    source: str
    fps: float
    width: int
    height: int
    n_video_frames: int
    size: int
    margin: float
    frames: np.ndarray
    has_face: np.ndarray
    n_faces: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    points5: np.ndarray
    landmarks: np.ndarray
    affines: np.ndarray
    crops: np.ndarray
    others: np.ndarray = field(default_factory=lambda: np.zeros((0, 6), np.float32))
    settings: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def n_with_face(self) -> int:
        return int(self.has_face.sum())

    @property
    def inverse_affines(self) -> np.ndarray:
        """``float32 (N,2,3)`` crop -> frame (to paste a face back); zeros without a face."""
        inv = np.zeros_like(self.affines)
        for i in np.flatnonzero(self.has_face):
            inv[i] = invert_affine(self.affines[i])
        return inv

    def face_crops(self) -> tuple[np.ndarray, np.ndarray]:
        """The crops that hold a face and their source frame numbers."""
        keep = self.has_face
        return self.crops[keep], self.frames[keep]

    def table(self) -> pd.DataFrame:
        """One row per sampled frame: frame, has_face, n_faces, box, score."""
        return pd.DataFrame({
            "frame": self.frames,
            "has_face": self.has_face,
            "n_faces": self.n_faces,
            "x1": self.boxes[:, 0], "y1": self.boxes[:, 1], "x2": self.boxes[:, 2], "y2": self.boxes[:, 3],
            "score": self.scores,
        })

    def summary(self) -> dict:
        multi = int((self.n_faces > 1).sum())
        return {"source": self.source, "fps": self.fps, "width": self.width, "height": self.height,
                "n_video_frames": self.n_video_frames, "sampled": len(self), "with_face": self.n_with_face,
                "frames_with_several_faces": multi, "size": self.size, "margin": self.margin}

    def save(self, path: str | Path, *, with_crops: bool = True, durable: bool = True) -> None:
        """Write to ``.npz`` (uncompressed: crops load fast), atomically; without crops when ``with_crops=False``;
        ``durable=False`` skips the fsync (a cache entry, cheap to redo)."""
        from fakebench.files import atomic_path

        meta = {"format": NPZ_FORMAT, "source": self.source, "fps": self.fps, "width": self.width,
                "height": self.height, "n_video_frames": self.n_video_frames, "size": self.size,
                "margin": self.margin, "settings": self.settings}
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        if not with_crops:
            arrays["crops"] = np.zeros((0, self.size, self.size, 3), np.uint8)
        with atomic_path(path, durable=durable) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: str | Path) -> FaceTrack:
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                if meta.get("format") != NPZ_FORMAT:
                    raise MediaError(f"{path}: face track format {meta.get('format')}, expected {NPZ_FORMAT}; "
                                     "re-run the extraction")
                arrays = {name: data[name] for name in _ARRAYS}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as err:
            raise MediaError(f"{path}: not a readable face track ({err}); re-run the extraction") from err
        meta.pop("format")
        return cls(**meta, **arrays)


_ARRAYS = ("frames", "has_face", "n_faces", "boxes", "scores", "points5", "landmarks", "affines", "crops", "others")
