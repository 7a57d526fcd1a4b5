"""Scoring media files with a detector: extract the faces it asks for, then judge them."""

from __future__ import annotations

import os

from fakebench.detect.base import Detector, VideoScore
from fakebench.errors import FakebenchError
from fakebench.faces.extract import FaceExtractor
from fakebench.faces.track import FaceTrack
from fakebench.media import check_file, is_image, is_video


def extractor_for(detector: Detector, device: str = "auto", use_cache: bool = True) -> FaceExtractor:
    """A face extractor with the settings ``detector.request`` asks for."""
    req = detector.request
    return FaceExtractor(size=req.size, margin=req.margin, landmarks=req.landmarks, detect_every=req.detect_every,
                         device=device, use_cache=use_cache)


def track_for(detector: Detector, path: str | os.PathLike, extractor: FaceExtractor | None = None, *,
              start: int = 0, stop: int | None = None, progress: bool = False) -> FaceTrack:
    """The face track of one video or image, sampled as the detector asks."""
    path = check_file(path, "video or image")
    if not (is_video(path) or is_image(path)):
        raise FakebenchError(f"{path}: expected a video (.mp4, .avi, .mov, ...) or an image (.png, .jpg, ...), "
                             f"got a {path.suffix or 'suffix-less'} file")
    if detector.needs_video and is_image(path):
        raise FakebenchError(f"{path}: detector {detector.name!r} needs a video, got a still image")
    extractor = extractor or extractor_for(detector)
    req = detector.request
    every = req.every if req.count is None else None
    return extractor.extract(path, count=req.count, every=every, start=start, stop=stop, progress=progress)


def score_file(detector: Detector, path: str | os.PathLike, extractor: FaceExtractor | None = None, *,
               progress: bool = False) -> tuple[VideoScore, FaceTrack]:
    """The detector's verdict on one file, with the face track it rests on."""
    track = track_for(detector, path, extractor, progress=progress)
    if track.n_with_face == 0:
        result = VideoScore(0.5, 0, {"flags": [f"no face in any of the {len(track)} sampled frames"]})
        return result, track
    return detector.explain(track), track


