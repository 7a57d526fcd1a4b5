"""The one interface every detector implements, and the registry that names them.

A detector reads a ``FaceTrack`` (``fakebench.faces.track``): the tracked face at each sampled
frame of one video, with ``crops`` ``uint8 (N,S,S,3) RGB``, ``landmarks`` ``float32 (N,68,2)``
frame pixels, ``has_face`` ``bool (N,)``, the frame numbers and the fps. Frame-level detectors also
accept bare crops, ``uint8 (N,H,W,3) RGB``. Every score is a probability of "fake" in [0, 1], as
floats or numpy arrays, never tensors or dicts.

Adding a detector is one file and one decorator line::

    @DETECTORS.register("blink")
    class BlinkDetector(Detector): ...

plus its import in ``fakebench/detect/__init__.py``.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np

from fakebench.errors import CheckpointError, FakebenchError
from fakebench.faces.track import FaceTrack
from fakebench.files import atomic_path
from fakebench.registry import Registry

Aggregation = Literal["mean", "max", "confident"]


@dataclass(frozen=True)
class FaceRequest:
    """How a detector wants its faces taken from a file (the arguments of ``FaceExtractor``).

    ``count`` frames spread evenly (32 is the de-facto protocol), else every ``every``-th frame,
    else every frame. ``detect_every`` > 1 runs MTCNN on a stride and follows the face with the
    landmarks in between (for detectors that need every frame).
    """

    size: int = 224
    margin: float = 0.25
    count: int | None = 32
    every: int | None = None
    landmarks: bool = True
    detect_every: int = 1


@dataclass
class VideoScore:
    """One video's verdict: ``score`` = probability of fake, the frames it rests on, and the
    detector's own evidence (JSON-serialisable: numbers, strings, lists)."""

    score: float
    frames_used: int
    evidence: dict = field(default_factory=dict)


class Detector(ABC):
    """Base of every detector; see the module docstring for the inputs.

    ``frame_level`` says whether ``score_frames`` gives a per-frame probability (a blink-rate
    detector judges whole clips only). ``needs_video`` refuses still images.
    """

    name: ClassVar[str] = ""
    frame_level: ClassVar[bool] = True
    needs_video: ClassVar[bool] = False
    request: FaceRequest = FaceRequest()

    # -- what every detector answers -----------------------------------------------------------
    @abstractmethod
    def score_frames(self, faces: FaceTrack | np.ndarray) -> np.ndarray:
        """``float64 (N,)`` probability of fake per sampled frame, NaN where no face was found."""

    def score_video(self, track: FaceTrack) -> float:
        """One probability of fake for the whole video."""
        return self.explain(track).score

    def explain(self, track: FaceTrack) -> VideoScore:
        """The video score with its evidence; by default the mean of the frame scores."""
        check_track(track)
        scores = self.score_frames(track)
        return VideoScore(aggregate(scores, "mean"), int(np.isfinite(scores).sum()),
                          {"aggregation": "mean", "frame_scores": _rounded(scores)})

    # -- optional -----------------------------------------------------------------------------
    def fit(self, *args, **kwargs) -> Detector:
        raise FakebenchError(f"detector {self.name!r} has nothing to train")

    def save(self, path: str | os.PathLike) -> Path:
        """Write the detector's settings (detectors with weights override this)."""
        from fakebench.config import to_dict

        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps({"format_version": 1, "detector": self.name,
                                       "config": to_dict(getattr(self, "config", None)) or {}}, indent=2))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Detector:
        """Read what ``save`` wrote; a file of another detector or format says so."""
        from fakebench.config import from_dict

        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
            raise CheckpointError(f"{path}: expected a {cls.name} settings file (JSON written by save), "
                                  f"could not read it ({err})") from err
        if not isinstance(data, dict) or data.get("detector") != cls.name:
            found = data.get("detector") if isinstance(data, dict) else type(data).__name__
            raise CheckpointError(f"{path}: expected settings of detector {cls.name!r}, found {found!r}")
        config_cls = getattr(cls, "config_class", None)
        if config_cls is None:
            return cls()
        return cls(config=from_dict(config_cls, data.get("config"), where=str(path)))


DETECTORS: Registry[type[Detector]] = Registry("detector")


def build(name: str, weights: str | os.PathLike | None = None, **kwargs) -> Detector:
    """A registered detector by name, loaded from ``weights`` when given."""
    from fakebench.detect import load_detectors

    load_detectors()
    cls = DETECTORS.get(name)
    if weights is not None:
        return cls.load(weights)
    return cls(**kwargs)


# -- checks at the edges ------------------------------------------------------------------------
def check_crops(crops: np.ndarray) -> np.ndarray:
    """Face crops as ``uint8 (N,H,W,3) RGB``; anything else is refused with what to do."""
    if isinstance(crops, FaceTrack):
        return crops.crops
    if not isinstance(crops, np.ndarray):
        raise FakebenchError(f"expected a FaceTrack or uint8 (N,H,W,3) RGB face crops, got {type(crops).__name__}: "
                             "convert tensors with .numpy() and stack HWC frames")
    if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[-1] != 3:
        hint = ("pass HWC frames, not CHW tensors" if crops.ndim == 4 and crops.shape[1] == 3
                else "add the batch axis: crops[None]" if crops.ndim == 3
                else "scale to 0..255 and cast to uint8" if crops.dtype != np.uint8
                else "convert gray crops with fakebench.media.to_rgb")
        raise FakebenchError(f"expected uint8 (N,H,W,3) RGB face crops, got {crops.dtype} {crops.shape}: {hint}")
    if len(crops) == 0:
        raise FakebenchError("expected at least one face crop, got 0")
    return crops


def check_track(track: FaceTrack) -> FaceTrack:
    if not isinstance(track, FaceTrack):
        raise FakebenchError(f"expected a FaceTrack (fakebench.faces.FaceExtractor().extract(path)), "
                             f"got {type(track).__name__}")
    if len(track) == 0:
        raise FakebenchError("expected a face track with at least one sampled frame, got an empty one")
    return track


def aggregate(scores: np.ndarray, how: Aggregation = "mean", confident: float = 0.8) -> float:
    """One video score from frame scores (NaN = no face, ignored).

    ``mean``; ``max``; ``confident``: the mean of the frames the detector is sure about
    (score > ``confident`` or < 1 - ``confident``, as in the DFDC winning entry), else the mean.
    No scored frame at all gives 0.5 (undecided).
    """
    scores = np.asarray(scores, np.float64)
    scores = scores[np.isfinite(scores)]
    if len(scores) == 0:
        return 0.5
    if how == "mean":
        return float(scores.mean())
    if how == "max":
        return float(scores.max())
    if how == "confident":
        sure = scores[(scores > confident) | (scores < 1 - confident)]
        return float((sure if len(sure) else scores).mean())
    raise FakebenchError(f"unknown aggregation {how!r}; expected mean, max or confident")


def _rounded(values: np.ndarray) -> list:
    return [None if not np.isfinite(v) else round(float(v), 4) for v in values]
