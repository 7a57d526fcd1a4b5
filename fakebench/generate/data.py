"""The faces each decoder learns from: extracted through the face pipeline, split train / held out.

A source is a video (optionally a frame range of it), an image, or a folder of images. Faces are
taken every ``stride``-th frame through ``FaceExtractor`` (cached by file content: the demo's
extraction of the sample media is reused) at twice the model size, so the warp has pixels to spare.

Held out: in each video range ``[start, stop)`` of length L, the last ``held_out * L`` frames are
kept for validation, previews and evaluation, and ``gap`` seconds before them are dropped, so no
near-duplicate of a held-out frame is trained on. A folder of images holds out its last images (by
name). The split is a frame range per video, written to the run's ``data.json``, so later stages
(the demo, evaluation) can convert exactly the frames the model never saw.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fakebench.errors import ConfigError, MediaError, NoFaceError
from fakebench.faces.align import transform_points
from fakebench.files import content_key
from fakebench.media import is_image, is_video, probe_video

log = logging.getLogger("fakebench.generate")


@dataclass(frozen=True)
class Source:
    """Where faces of one identity come from: a video (frames ``[start, stop)``), an image or a folder of images."""

    path: str
    start: int = 0
    stop: int | None = None  # None: to the end

    @classmethod
    def of(cls, value: str | os.PathLike | Source) -> Source:
        """A plain path means the whole file."""
        return value if isinstance(value, Source) else cls(str(value))


@dataclass(frozen=True)
class DataConfig:
    stride: int = 4  # every 4th frame: the demo's sampling, so its face cache is shared
    held_out: float = 0.25  # last fraction of each video (range) kept out of training
    gap: float = 2.0  # seconds dropped before each held-out segment
    min_faces: int = 64  # fewest training faces per identity
    margin: float = 0.25  # crop margin around the inner face (fakebench.faces.align)

    def __post_init__(self):
        if self.stride < 1:
            raise ConfigError(f"data.stride must be >= 1, got {self.stride}")
        if not 0 <= self.held_out < 1:
            raise ConfigError(f"data.held_out is a fraction in [0, 1), got {self.held_out}")
        if self.gap < 0 or self.min_faces < 1 or self.margin < 0:
            raise ConfigError(f"data.gap and data.margin must be >= 0 and data.min_faces >= 1, got "
                              f"gap={self.gap}, margin={self.margin}, min_faces={self.min_faces}")


@dataclass
class FaceSet:
    """The faces of one identity.

    ``crops``: ``uint8 (N,R,R,3) RGB`` aligned at ``R`` = 2 x model size; ``landmarks``: ``float32
    (N,68,2)`` in crop pixels; ``frames``: source frame (or image) number; ``video``: index into
    ``records``; ``held_out``: bool (N,).
    """

    name: str
    crops: np.ndarray
    landmarks: np.ndarray
    frames: np.ndarray
    video: np.ndarray
    held_out: np.ndarray
    records: list[dict] = field(default_factory=list)

    @property
    def train_idx(self) -> np.ndarray:
        return np.flatnonzero(~self.held_out)

    @property
    def held_out_idx(self) -> np.ndarray:
        return np.flatnonzero(self.held_out)


def split_range(start: int, stop: int, fps: float, held_out: float, gap: float) -> tuple[list[int], list[int]]:
    """``([train_start, train_stop), [held_start, held_stop))`` frame ranges of a video range."""
    cut = start + int(round((1.0 - held_out) * (stop - start)))
    if held_out <= 0:
        return [start, stop], [stop, stop]
    gap_frames = int(round(gap * (fps or 25.0)))
    return [start, max(start, cut - gap_frames)], [cut, stop]


def load_faces(name: str, sources: list[Source | str | os.PathLike], config: DataConfig, crop_size: int, extractor,
               progress: bool = True) -> FaceSet:
    """Extract and split the faces of one identity (``extractor``: a ``FaceExtractor`` at ``crop_size``)."""
    if not sources:
        raise ConfigError(f"identity {name!r} has no inputs: pass at least one video, image or folder of faces")
    parts, records = [], []
    for source in map(Source.of, sources):
        path = Path(source.path)
        if not path.exists():
            raise MediaError(f"{path}: no such file or folder (identity {name!r}); check the path")
        if path.is_dir():
            part, record = _from_folder(path, config, extractor, progress)
        elif is_video(path):
            part, record = _from_video(source, config, extractor, progress)
        elif is_image(path):
            part, record = _from_images([path], path, config, extractor, progress, held_out=0.0)
        else:
            raise MediaError(f"{path}: expected a video, an image or a folder of images for identity {name!r}")
        part["video"] = np.full(len(part["frames"]), len(records), np.int64)
        parts.append(part)
        records.append(record)
    faces = FaceSet(name=name, records=records,
                    **{k: np.concatenate([p[k] for p in parts]) for k in ("crops", "landmarks", "frames", "video",
                                                                         "held_out")})
    n_train, n_held = len(faces.train_idx), len(faces.held_out_idx)
    if n_train < config.min_faces:
        found = "; ".join(f"{Path(r['path']).name}: {r['faces_train']} in frames {r['train']}" for r in records)
        raise NoFaceError(f"identity {name!r}: found {n_train} training faces ({found}), need at least "
                          f"{config.min_faces}: give more or longer videos, sample more frames (lower --stride, now "
                          f"{config.stride}), hold out less (--held-out {config.held_out}) or lower --min-faces")
    if config.held_out > 0 and n_held == 0:
        raise NoFaceError(f"identity {name!r}: no face in the held-out frames "
                          f"({', '.join(str(r['held_out']) for r in records)}); expected at least one for validation: "
                          "use longer inputs or --held-out 0")
    log.info("identity %s: %d training faces, %d held out, from %d input(s)", name, n_train, n_held, len(records))
    return faces


def _from_video(source: Source, config: DataConfig, extractor, progress: bool) -> tuple[dict, dict]:
    info = probe_video(source.path)
    stop = info.n_frames if source.stop is None else min(source.stop, info.n_frames)
    if not 0 <= source.start < stop:
        raise ConfigError(f"{source.path}: frame range [{source.start}, {source.stop}) is empty or outside the "
                          f"video's {info.n_frames} frames")
    train, held = split_range(source.start, stop, info.fps, config.held_out, config.gap)
    track = extractor.extract(source.path, every=config.stride, start=source.start, stop=stop, progress=progress)
    keep = track.has_face & (((track.frames >= train[0]) & (track.frames < train[1]))
                             | ((track.frames >= held[0]) & (track.frames < held[1])))
    part = _part(track, keep)
    part["held_out"] = part["frames"] >= held[0]
    record = {"path": str(Path(source.path).resolve()), "kind": "video", "sha256": content_key(source.path),
              "n_frames": info.n_frames, "fps": info.fps, "range": [source.start, stop], "stride": config.stride,
              "train": train, "held_out": held, "faces_train": int((~part["held_out"]).sum()),
              "faces_held_out": int(part["held_out"].sum())}
    return part, record


def _from_folder(folder: Path, config: DataConfig, extractor, progress: bool) -> tuple[dict, dict]:
    images = sorted(p for p in folder.iterdir() if p.is_file() and is_image(p))
    if not images:
        raise MediaError(f"{folder}: no image files (png, jpg, ...) in this folder; expected a folder of faces")
    return _from_images(images, folder, config, extractor, progress, held_out=config.held_out)


def _from_images(images: list[Path], where: Path, config: DataConfig, extractor, progress: bool,
                 held_out: float) -> tuple[dict, dict]:
    parts = []
    for i, image in enumerate(images):
        track = extractor.extract(image, progress=False)
        part = _part(track, track.has_face)
        part["frames"][:] = i
        parts.append(part)
    part = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    n_train = len(images) - (int(np.ceil(held_out * len(images))) if len(images) > 1 else 0)
    part["held_out"] = part["frames"] >= n_train
    record = {"path": str(where.resolve()), "kind": "images", "n_frames": len(images), "fps": 0.0,
              "range": [0, len(images)], "train": [0, n_train], "held_out": [n_train, len(images)],
              "files": [p.name for p in images], "faces_train": int((~part["held_out"]).sum()),
              "faces_held_out": int(part["held_out"].sum())}
    return part, record


def _part(track, keep: np.ndarray) -> dict:
    idx = np.flatnonzero(keep)
    marks = np.stack([transform_points(track.landmarks[i], track.affines[i]) for i in idx]) if len(idx) else \
        np.zeros((0, 68, 2), np.float32)
    return {"crops": track.crops[idx], "landmarks": marks.astype(np.float32), "frames": track.frames[idx].copy()}
