"""From a detector and a face track to a score: the one path every command takes.

``judge(detector, track)`` is how a video gets its ``VideoScore`` in ``detect score``, ``bench run``
and ``bench throughput``: no face in any sampled frame gives 0.5 (undecided) with a flag and no
call to the detector; otherwise the detector's ``explain``, checked (a probability in [0, 1], frame
scores one per sampled frame). ``track_for`` takes the faces a detector asks for from a file.
"""

from __future__ import annotations

import math
import os

import numpy as np

from fakebench.detect.base import Detector, VideoScore, check_track
from fakebench.errors import FakebenchError
from fakebench.faces.extract import FaceExtractor
from fakebench.faces.track import FaceTrack
from fakebench.media import check_file, is_image, is_video


def judge(detector: Detector, track: FaceTrack) -> VideoScore:
    """The detector's verdict on one face track (see the module docstring)."""
    check_track(track)
    if track.n_with_face == 0:
        frames = np.full(len(track), np.nan) if detector.frame_level else None
        return VideoScore(0.5, 0, {"flags": [f"no face in any of the {len(track)} sampled frames"]}, frame_scores=frames)
    result = detector.explain(track)
    if not isinstance(result, VideoScore):
        raise FakebenchError(f"detector {detector.name!r}: explain returned {type(result).__name__}, expected a "
                             "fakebench.detect.VideoScore")
    score = float(result.score)
    if not (math.isfinite(score) and 0.0 <= score <= 1.0):
        raise FakebenchError(f"detector {detector.name!r}: video score {score!r} for {track.source}; expected a "
                             "probability of fake in [0, 1]")
    frames = result.frame_scores
    if frames is not None:
        frames = np.asarray(frames, np.float64).reshape(-1)
        if len(frames) != len(track):
            raise FakebenchError(f"detector {detector.name!r}: {len(frames)} frame scores for a track of "
                                 f"{len(track)} sampled frames; expected one per frame (NaN where no face)")
    result.score, result.frame_scores = score, frames
    return result


def track_for(detector: Detector, path: str | os.PathLike, extractor: FaceExtractor | None = None, *,
              start: int = 0, stop: int | None = None, progress: bool = False) -> FaceTrack:
    """The face track of one video or image, sampled as the detector asks."""
    path = check_file(path, "video or image")
    if not (is_video(path) or is_image(path)):
        raise FakebenchError(f"{path}: expected a video (.mp4, .avi, .mov, ...) or an image (.png, .jpg, ...), "
                             f"got a {path.suffix or 'suffix-less'} file")
    if detector.needs_video and is_image(path):
        raise FakebenchError(f"{path}: detector {detector.name!r} needs a video, got a still image")
    req = detector.request
    return req.extract(extractor or req.extractor(), path, start=start, stop=stop, progress=progress)


def score_file(detector: Detector, path: str | os.PathLike, extractor: FaceExtractor | None = None, *,
               progress: bool = False) -> tuple[VideoScore, FaceTrack]:
    """The detector's verdict on one file, with the face track it rests on."""
    track = track_for(detector, path, extractor, progress=progress)
    return judge(detector, track), track
