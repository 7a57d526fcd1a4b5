"""The ``provenance`` detector: fakebench's own invisible mark, read from a face track.

Every fake ``generate convert`` writes carries a keyed spread-spectrum pattern in the luma of the
swapped face (``fakebench.mark``, where the pattern, the statistic and its false-positive
bound are described). This detector reads it from the faces a detector is given: each crop is put
back on the frame's pixel grid through the track's affine, so the landmarks only choose the pixels.

- ``score_frames``: per sampled frame, the reading's confidence, 1 / (1 + p / ALPHA), where p
  bounds the chance that a frame without the mark reads as strongly and ALPHA (4.6e-6) is that
  bound at the thresholds: 0.5 at the thresholds, about 5e-6 on real frames, within 1e-6 of 1 on
  clearly marked ones;
- ``explain`` / ``score_video``: the frames' folded tiles pooled (the pattern is the same in every
  frame of a fake), the confidence of the pool; the evidence says whether the video is marked, the payload
  (run, checkpoint, first frame of the segment) when it reads back, and how many frames are marked
  on their own.

It is a check of fakebench's own output, not a deepfake detector: a fake made elsewhere, or one
made with ``--no-mark``, scores 0. The mark lives in ``fakebench/mark.py``, beside both halves (it
needs only numpy and OpenCV), so ``detect`` still never imports ``generate``. Bare crops
(``uint8 (N,S,S,3)``) are read as if each were a frame of its own (identity affine); the shift
search finds a pattern anywhere in them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import numpy as np

from fakebench import mark
from fakebench.detect.base import DETECTORS, Detector, FaceRequest, VideoScore, check_crops, check_track
from fakebench.faces.track import FaceTrack
from fakebench.files import write_json


@DETECTORS.register("provenance")
class ProvenanceDetector(Detector):
    """Fakebench's own invisible mark (generate --no-mark turns it off): P(fake) = how sure the mark is there."""

    name = "provenance"
    # mark.py is imported, not subclassed, so the bench cache's code fingerprint does not see it: this string
    # stands for both files; change it with either.
    code_version: ClassVar[str] = f"{mark.FORMAT}; detector 1"
    # 256 px at margin 0.15: about one crop pixel per frame pixel for the sample faces (the mark's periods are
    # 2.9-9.1 frame pixels); the ellipse read lies well inside the crop.
    request = FaceRequest(size=256, margin=0.15, count=32)

    def score_frames(self, faces: FaceTrack | np.ndarray) -> np.ndarray:
        crops, affines, margin, has = _faces(faces)
        scores = np.full(len(crops), np.nan)
        scores[has] = [r.confidence for r in mark.read(crops[has], affines[has], margin)]
        return scores

    def explain(self, track: FaceTrack) -> VideoScore:
        check_track(track)
        crops, affines, margin, has = _faces(track)
        folded = mark.fold_all(crops[has], affines[has], margin)
        frames = [mark.read_folded(f) for f in folded]
        scores = np.full(len(track), np.nan)
        scores[has] = [r.confidence for r in frames]
        if not len(frames):
            return VideoScore(0.0, 0, {"marked": False, "flags": ["no face to read the mark from"]}, frame_scores=scores)
        pooled = mark.pool(folded, frames)
        own = [r.payload for r in frames if r.payload is not None]
        evidence = {**pooled.as_dict(), "frames_marked": int(sum(r.marked for r in frames)),
                    "frames_read": len(frames), "frames_with_payload": len(own)}
        return VideoScore(float(pooled.confidence), len(frames), evidence, frame_scores=scores)

    def save(self, path: str | os.PathLike) -> Path:
        """Nothing is learned: the file only names the detector and the mark's format (``Detector.load`` reads it)."""
        path = Path(path)
        write_json(path, {"format_version": 1, "detector": self.name, "mark": mark.FORMAT, "config": {}})
        return path


def _faces(faces: FaceTrack | np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    """Crops, their frame -> crop affines, the margin and which hold a face (bare crops: each its own frame)."""
    if isinstance(faces, FaceTrack):
        return faces.crops, faces.affines, float(faces.margin), np.asarray(faces.has_face, bool)
    crops = check_crops(faces)
    affines = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float32), (len(crops), 1, 1))
    return crops, affines, ProvenanceDetector.request.margin, np.ones(len(crops), bool)
