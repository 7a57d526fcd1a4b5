"""From a video (or image) file to a ``FaceTrack``: decode, detect, track, landmark, align, cache.

Two cache levels under ``<cache>/faces`` keyed by the file's content (sha256), the sampled frame
numbers and the detector settings: the geometry (boxes, points, landmarks), which is the slow part,
and the crops for each (size, margin). A second run with the same settings only loads a file; a
new crop size re-warps from the cached geometry without detecting again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from fakebench.errors import MediaError
from fakebench.faces.align import alignment_affine, warp_face
from fakebench.faces.detector import FaceDetector
from fakebench.faces.landmarks import LandmarkPredictor, five_points
from fakebench.faces.track import FaceTrack, LargestFaceTracker
from fakebench.files import cache_root, content_key, stable_hash
from fakebench.media import is_image, iter_frames, probe_video, read_image, sample_indices

log = logging.getLogger(__name__)

Align = Literal["landmarks", "mtcnn"]
_NO_LANDMARKS = np.full((68, 2), np.nan, np.float32)


class FaceExtractor:
    """Turns media files into face tracks with one set of settings.

    ``size``/``margin``: the aligned crop (see ``faces.align``). ``align``: which 5 points the
    similarity is fitted to, ``landmarks`` (eye centres, nose tip and mouth corners of dlib's 68
    points: steadier from frame to frame) or ``mtcnn`` (MTCNN's own 5 points). ``landmarks=False``
    skips dlib's 68 points altogether (they stay NaN; alignment then uses MTCNN's points): for
    users that only need the crops, at about a tenth of the cost over detection alone instead of
    a fifth. Detection settings are those of ``FaceDetector``. Models load on first use.

    ``detect_every=k`` runs MTCNN on every k-th sampled frame only and follows the face in between
    with the landmarks: the box of the last detection, moved with the landmarks' centre (needs
    ``landmarks=True``). For dense sampling (every frame, as blink counting needs) this cuts the
    detector's cost by k; between detections ``n_faces`` repeats the last detection's count.
    """

    def __init__(self, *, size: int = 128, margin: float = 0.25, align: Align = "landmarks", landmarks: bool = True,
                 device: str = "auto",
                 min_score: float = 0.9, min_face_fraction: float = 0.08, max_side: int = 720, batch_size: int = 16,
                 detect_every: int = 1, cache_dir: str | os.PathLike | None = None, use_cache: bool = True):
        if align not in ("landmarks", "mtcnn"):
            raise ValueError(f"align must be 'landmarks' or 'mtcnn', got {align!r}")
        if detect_every < 1 or (detect_every > 1 and not landmarks):
            raise ValueError(f"detect_every must be >= 1 and needs landmarks=True to follow the face, got {detect_every}")
        self.detect_every = detect_every
        self.size = size
        self.margin = margin
        self.with_landmarks = landmarks
        self.align = align if landmarks else "mtcnn"
        self.detector = FaceDetector(device=device, min_score=min_score, min_face_fraction=min_face_fraction,
                                     max_side=max_side, batch_size=batch_size)
        self.landmarks = LandmarkPredictor()
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.use_cache = use_cache

    # -- public -------------------------------------------------------------------------------
    def extract(self, path: str | os.PathLike, *, every: int | None = None, count: int | None = None,
                indices: Iterable[int] | None = None, start: int = 0, stop: int | None = None,
                progress: bool = True) -> FaceTrack:
        """Track the face through the sampled frames of ``path``.

        Sampling: explicit ``indices``, or ``count`` frames spread evenly, or every ``every``-th
        frame (default every frame), within ``[start, stop)``. An image is one frame.
        """
        path = Path(path)
        if is_image(path):
            image = read_image(path)
            fps, width, height, n_video = 0.0, image.shape[1], image.shape[0], 1
            wanted = np.zeros(1, np.int64)
        else:
            info = probe_video(path)
            fps, width, height, n_video = info.fps, info.width, info.height, info.n_frames
            if indices is not None:
                wanted = np.unique(np.asarray(list(indices), np.int64))
            else:
                wanted = sample_indices(n_video, count=count, stride=every, start=start, stop=stop)
            if len(wanted) == 0:
                raise MediaError(f"{path}: no frames to sample in [{start}, {stop}) of {n_video} frames")
        frames = [(0, image)] if is_image(path) else iter_frames(path, wanted)
        if not self.use_cache:  # nothing read from or written to the cache, not even the content hash
            return self._run(frames, path, fps, width, height, n_video, len(wanted), progress)
        from fakebench.fingerprint import face_pipeline_code

        cache = self.cache_dir or cache_root()
        geometry_key = stable_hash({"content": content_key(path, cache), "frames": wanted.tolist(),
                                    "detector": self.detector.settings(),
                                    **({"detect_every": self.detect_every} if self.detect_every > 1 else {}),
                                    "landmarks": "dlib-68-v1" if self.with_landmarks else None,
                                    "code": face_pipeline_code()})  # a change of the face code re-extracts
        crops_key = stable_hash({"geometry": geometry_key, "size": self.size, "margin": self.margin,
                                 "align": self.align})
        folder = cache / "faces"
        geometry_file = folder / f"{geometry_key}.npz"
        track_file = folder / f"{geometry_key}-{crops_key}.npz"

        if track_file.exists():
            try:
                return self._relabel(FaceTrack.load(track_file), path)
            except MediaError:
                log.warning("ignoring unreadable cache file %s", track_file)
        if geometry_file.exists():
            try:
                track = self._rewarp(FaceTrack.load(geometry_file), path, progress)
            except MediaError:
                log.warning("ignoring unreadable cache file %s", geometry_file)
            else:
                track.save(track_file, durable=False)
                return self._relabel(track, path)

        track = self._run(frames, path, fps, width, height, n_video, len(wanted), progress)
        track.save(geometry_file, with_crops=False, durable=False)
        track.save(track_file, durable=False)
        return track

    def extract_frames(self, frames: np.ndarray, indices: Iterable[int] | None = None, *, fps: float = 0.0,
                       source: str = "<frames>", progress: bool = False) -> FaceTrack:
        """Track the face through frames already in memory (``uint8 (T,H,W,3) RGB``); not cached."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
            raise MediaError(f"expected uint8 (T,H,W,3) RGB frames with T >= 1, got {frames.dtype} {frames.shape}: "
                             "stack HWC frames; convert gray ones with fakebench.media.to_rgb")
        indices = np.arange(len(frames)) if indices is None else np.asarray(list(indices), np.int64)
        if len(indices) != len(frames):
            raise MediaError(f"got {len(frames)} frames but {len(indices)} frame numbers")
        h, w = frames.shape[1:3]
        return self._run(zip(indices.tolist(), frames), Path(source), fps, w, h, len(frames), len(frames), progress)

    # -- the pipeline -------------------------------------------------------------------------
    def _run(self, frames: Iterable[tuple[int, np.ndarray]], path: Path, fps: float, width: int, height: int,
             n_video: int, n_wanted: int, progress: bool) -> FaceTrack:
        tracker = LargestFaceTracker()
        rows: dict[str, list] = {k: [] for k in ("frames", "has_face", "n_faces", "boxes", "scores", "points5",
                                                 "landmarks", "affines", "crops")}
        others: list[list[float]] = []
        bar = tqdm(total=n_wanted, desc=path.name[:30], unit="frame", disable=not progress, leave=False)
        held = None  # between detections: (box, score, n_faces, landmark centre when the box was set)
        centre = None  # landmark centre in the previous sampled frame
        k = self.detect_every
        for batch_idx, batch in _batches(frames, self.detector.batch_size * k):
            start = len(rows["frames"])
            keys = [p for p in range(len(batch)) if (start + p) % k == 0]
            detections = dict(zip(keys, self.detector.detect(batch[keys])))
            for p, (index, frame) in enumerate(zip(batch_idx, batch)):
                pos = len(rows["frames"])
                rows["frames"].append(index)
                det = detections.get(p)
                if det is None:  # follow the face from the last detection
                    if held is None or centre is None:
                        rows["n_faces"].append(0 if held is None else held[2])
                        self._append_empty(rows)
                        continue
                    box = held[0] + np.tile(centre - held[3], 2)
                    score, n_faces, points = held[1], held[2], None
                else:
                    choice = tracker.update(det)
                    for j in range(len(det)):
                        if j != choice:
                            others.append([pos, *det.boxes[j], det.scores[j]])
                    if choice < 0:
                        held = centre = None
                        rows["n_faces"].append(len(det))
                        self._append_empty(rows)
                        continue
                    box, score, n_faces, points = det.boxes[choice], det.scores[choice], len(det), det.points[choice]
                marks = self.landmarks.predict(frame, box) if self.with_landmarks else _NO_LANDMARKS
                if self.with_landmarks:
                    centre = marks.mean(0)
                    if det is not None:
                        held = (box, score, n_faces, centre)
                if points is None:
                    points = five_points(marks)
                affine = alignment_affine(self._align_points(points, marks), self.size, self.margin)
                rows["n_faces"].append(n_faces)
                rows["has_face"].append(True)
                rows["boxes"].append(np.asarray(box, np.float32))
                rows["scores"].append(score)
                rows["points5"].append(points)
                rows["landmarks"].append(marks)
                rows["affines"].append(affine)
                rows["crops"].append(warp_face(frame, affine, self.size))
            bar.update(len(batch_idx))
        bar.close()
        if not rows["frames"]:
            raise MediaError(f"{path}: none of the requested frames decode; the file is damaged, re-encode it")
        others_arr = np.asarray(others, np.float32).reshape(-1, 6)
        track = FaceTrack(
            source=str(path), fps=fps, width=width, height=height, n_video_frames=n_video, size=self.size,
            margin=self.margin, frames=np.asarray(rows["frames"], np.int64),
            has_face=np.asarray(rows["has_face"], bool), n_faces=np.asarray(rows["n_faces"], np.int16),
            boxes=np.asarray(rows["boxes"], np.float32).reshape(-1, 4),
            scores=np.asarray(rows["scores"], np.float32),
            points5=np.asarray(rows["points5"], np.float32).reshape(-1, 5, 2),
            landmarks=np.asarray(rows["landmarks"], np.float32).reshape(-1, 68, 2),
            affines=np.asarray(rows["affines"], np.float32).reshape(-1, 2, 3),
            crops=np.asarray(rows["crops"], np.uint8).reshape(-1, self.size, self.size, 3),
            others=others_arr, settings=self.settings(),
        )
        _report_faces(track)
        return track

    def _append_empty(self, rows: dict[str, list]) -> None:
        rows["has_face"].append(False)
        rows["boxes"].append(np.full(4, np.nan, np.float32))
        rows["scores"].append(np.float32(0.0))
        rows["points5"].append(np.full((5, 2), np.nan, np.float32))
        rows["landmarks"].append(np.full((68, 2), np.nan, np.float32))
        rows["affines"].append(np.zeros((2, 3), np.float32))
        rows["crops"].append(np.zeros((self.size, self.size, 3), np.uint8))

    def _align_points(self, points5: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        return five_points(landmarks) if self.align == "landmarks" else points5

    def _rewarp(self, track: FaceTrack, path: Path, progress: bool) -> FaceTrack:
        """Crops at this extractor's size/margin from cached geometry (decodes, does not detect)."""
        n = len(track)
        affines = np.zeros((n, 2, 3), np.float32)
        crops = np.zeros((n, self.size, self.size, 3), np.uint8)
        position = {int(f): i for i, f in enumerate(track.frames)}
        wanted = track.frames[track.has_face]
        if len(wanted) == 0:
            frames = []
        elif is_image(path):
            frames = [(0, read_image(path))]
        else:
            frames = iter_frames(path, wanted)
        for index, frame in tqdm(frames, total=len(wanted), desc=path.name[:30], unit="frame",
                                 disable=not progress, leave=False):
            i = position[index]
            affines[i] = alignment_affine(self._align_points(track.points5[i], track.landmarks[i]),
                                          self.size, self.margin)
            crops[i] = warp_face(frame, affines[i], self.size)
        track.size, track.margin, track.affines, track.crops = self.size, self.margin, affines, crops
        track.settings = self.settings()
        return track

    def _relabel(self, track: FaceTrack, path: Path) -> FaceTrack:
        # The cache is keyed by content: the same bytes may sit at another path.
        track.source = str(path)
        return track

    def settings(self) -> dict:
        return {**self.detector.settings(), "size": self.size, "margin": self.margin, "align": self.align,
                "landmarks": self.with_landmarks, "detect_every": self.detect_every}


def _batches(frames: Iterable[tuple[int, np.ndarray]], size: int) -> Iterator[tuple[list[int], np.ndarray]]:
    idx: list[int] = []
    batch: list[np.ndarray] = []
    for index, frame in frames:
        idx.append(index)
        batch.append(frame)
        if len(batch) == size:
            yield idx, np.stack(batch)
            idx, batch = [], []
    if batch:
        yield idx, np.stack(batch)


def _report_faces(track: FaceTrack) -> None:
    multi = int((track.n_faces > 1).sum())
    if multi:
        log.warning("%s: several faces in %d of %d sampled frames; following the largest face of the first "
                    "frame with a face (the others are listed in the track's `others`)", track.source, multi, len(track))
    lost = len(track) - track.n_with_face
    if track.n_with_face and lost:
        log.info("%s: no face in %d of %d sampled frames (recorded per frame)", track.source, lost, len(track))
