"""The one interface every detector implements, and the registry that names them.

A detector reads a ``FaceTrack`` (``fakebench.faces.track``): the tracked face at each sampled
frame of one video, with ``crops`` ``uint8 (N,S,S,3) RGB``, ``landmarks`` ``float32 (N,68,2)``
frame pixels, ``has_face`` ``bool (N,)``, the frame numbers and the fps. Frame-level detectors also
accept bare crops, ``uint8 (N,H,W,3) RGB``. Every score is a probability of "fake" in [0, 1], as
floats or numpy arrays, never tensors or dicts.

A built-in detector is one file and one decorator line::

    @DETECTORS.register("blink")
    class BlinkDetector(Detector): ...

plus its import in ``fakebench/detect/__init__.py``. A detector from outside the package (an entry
point in the group ``fakebench.detectors``, or ``pkg.module:Class`` / ``file.py:Class``) subclasses
``Detector`` the same way; ``fakebench.detect.create`` finds all of them.

What a subclass provides: ``name``; ``score_frames``; a ``request`` (the faces it wants); where it
has settings, a frozen dataclass ``config_class`` (its instance arrives as ``config``); where it
learns, ``trains_on`` and ``fit``; where it has weights, ``save`` and ``load``. The constructor
takes ``config``, ``device`` and ``seed`` by keyword (the base class stores them).
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

    def extractor(self, device: str = "auto", use_cache: bool = True):
        """The ``FaceExtractor`` with these settings (the one place a request becomes extractor arguments)."""
        from fakebench.faces.extract import FaceExtractor

        return FaceExtractor(size=self.size, margin=self.margin, landmarks=self.landmarks,
                             detect_every=self.detect_every, device=device, use_cache=use_cache)

    @property
    def stride(self) -> int | None:
        """Every ``stride``-th frame when no ``count`` is asked for (``count`` wins when both are set)."""
        return self.every if self.count is None else None

    def indices(self, n_frames: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """The frame numbers this request samples from a video of ``n_frames`` frames, within [start, stop)."""
        from fakebench.media import sample_indices

        return sample_indices(n_frames, count=self.count, stride=self.stride, start=start, stop=stop)

    def extract(self, extractor, path, *, start: int = 0, stop: int | None = None, progress: bool = False):
        """The face track of ``path`` sampled as this request says, by ``extractor`` (from ``self.extractor``)."""
        return extractor.extract(path, count=self.count, every=self.stride, start=start, stop=stop, progress=progress)


@dataclass
class VideoScore:
    """One video's verdict: ``score`` = probability of fake, the frames it rests on, the detector's own
    evidence (JSON-serialisable: numbers, strings, lists) and, for frame-level detectors, the score of
    every sampled frame (``float64 (N,)``, NaN = no face), which the benchmark stores as frame rows."""

    score: float
    frames_used: int
    evidence: dict = field(default_factory=dict)
    frame_scores: np.ndarray | None = None


class Detector(ABC):
    """Base of every detector; see the module docstring for the inputs.

    ``frame_level`` says whether ``score_frames`` gives a per-frame probability (a blink-rate
    detector judges whole clips only). ``needs_video`` refuses still images. ``trains_on`` says what
    ``fit`` needs: ``None`` (nothing to train), ``"real"`` (real faces only; fakes, when given, are
    only watched) or ``"real+fake"``. ``code_version``, when a class sets it, stands for the source of
    the module that defines the class in the bench cache's code fingerprint (``fakebench.fingerprint``):
    cached scores then survive edits of that file and are scored again when the string changes.
    ``thresholds``: calibrated operating points when its weights carry them (``{"fpr1", "fpr5",
    "n_real", "groups", "from"}``, see ``detect.training.calibrate``), else None.
    """

    name: ClassVar[str] = ""
    frame_level: ClassVar[bool] = True
    needs_video: ClassVar[bool] = False
    trains_on: ClassVar[str | None] = None
    needs_weights: ClassVar[bool] = False  # True: without trained weights its scores mean nothing (a CNN)
    config_class: ClassVar[type | None] = None
    code_version: ClassVar[str | None] = None  # None: the bench cache hashes the module's source instead
    request: FaceRequest = FaceRequest()

    def __init__(self, *, config=None, device: str = "auto", seed: int = 0):
        config_class = type(self).config_class
        self.config = config if config is not None else (config_class() if config_class is not None else None)
        self.device = device
        self.seed = seed
        self.thresholds: dict | None = None

    @property
    def aggregation(self) -> str:
        """How frame scores become the video score: the config's ``aggregation``, else the mean."""
        return getattr(self.config, "aggregation", "mean")

    # -- what every detector answers -----------------------------------------------------------
    @abstractmethod
    def score_frames(self, faces: FaceTrack | np.ndarray) -> np.ndarray:
        """``float64 (N,)`` probability of fake per sampled frame, NaN where no face was found."""

    def score_video(self, track: FaceTrack) -> float:
        """One probability of fake for the whole video."""
        return self.explain(track).score

    def explain(self, track: FaceTrack) -> VideoScore:
        """The video score with its evidence: the frame scores aggregated by ``self.aggregation``."""
        check_track(track)
        scores = np.asarray(self.score_frames(track), np.float64)
        how = self.aggregation
        return VideoScore(aggregate(scores, how), int(np.isfinite(scores).sum()), {"aggregation": how},
                          frame_scores=scores)

    # -- optional -----------------------------------------------------------------------------
    def fit(self, real, fake=None, *, out, config=None, progress: bool = True) -> dict:
        """Learn from ``real`` (and ``fake``) ``FaceSet``s (``detect.training``), writing checkpoints to
        ``out``; ``config`` is a ``detect.training.TrainConfig``. Returns a summary dict."""
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
    def load(cls, path: str | os.PathLike, *, device: str = "auto") -> Detector:
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
        config_cls = cls.config_class
        config = None if config_cls is None else from_dict(config_cls, data.get("config"), where=str(path))
        return cls(config=config, device=device)


DETECTORS: Registry[type[Detector]] = Registry("detector")  # the built-in detectors (plug-ins: detect.factory)


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


def rounded(values: np.ndarray) -> list:
    """Scores as a JSON list: 4 decimals, None for NaN."""
    return [None if not np.isfinite(v) else round(float(v), 4) for v in values]
