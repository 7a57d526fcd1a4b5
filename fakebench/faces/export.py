"""Writing a ``FaceTrack`` to a folder a person (or another tool) can browse.

Layout of ``<out>/<name>/``: ``crops/NNNNNN.png`` (one aligned crop per frame with a face, named by
source frame number), ``track.npz`` (``FaceTrack.save`` without crops: boxes, 5/68 landmarks,
affines), ``frames.csv`` (one row per sampled frame: frame, has_face, n_faces, box, score) and
``summary.json``. The folder is built under a temporary name and renamed when complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import cv2

from fakebench import outputs
from fakebench.faces.track import FaceTrack
from fakebench.files import write_json


def output_names(paths: list[Path]) -> dict[Path, str]:
    """A distinct folder name per input: the file stem, with ``_2``, ``_3``... where stems repeat."""
    names: dict[Path, str] = {}
    used: set[str] = set()
    for path in paths:
        base = name = Path(path).stem
        k = 1
        while name in used:
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        names[path] = name
    return names


def export_track(track: FaceTrack, folder: str | os.PathLike) -> Path:
    """Write ``track`` into ``folder`` (replacing an older export of fakebench's there) and return it.

    A ``folder`` that fakebench did not write is refused (``OutputError``) before anything is written.
    """
    folder = Path(folder)
    if folder.exists():
        outputs.claim(folder, "face exports")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        (staging / "crops").mkdir()
        crops, frames = track.face_crops()
        for crop, frame in zip(crops, frames):
            cv2.imwrite(str(staging / "crops" / f"{frame:06d}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        track.save(staging / "track.npz", with_crops=False)
        track.table().to_csv(staging / "frames.csv", index=False)
        write_json(staging / "summary.json", track.summary())
        outputs.replace_folder(staging, folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder
