"""What a generated fake says about itself: the manifest, the per-frame masks, the file names.

Each converted fake ``<name>.mp4`` has beside it::

    <name>.masks.npz   key "masks": uint8 (T,H,W), 255 where the swapped face covers frame t, else 0
    <name>.json        the manifest (schema fakebench.generated/1):

    {"schema": "fakebench.generated/1", "fakebench_version": "0.1.0",
     "video": "<name>.mp4", "masks": "<name>.masks.npz",      # relative to the manifest's folder
     "label": 1,
     "input": {"path", "sha256", "start_frame", "stop_frame"},  # the driving video's segment [start, stop)
     "identities": {"target": "a", "source": "b"},            # target: the person in the driving video,
                                                              # source: the face pasted in (FF++ convention)
     "method": "autoencoder",                                 # the swap method (methods.py)
     "run": "<run folder>", "checkpoint": {"step", "sha256"}, # autoencoder: the model that drew the face
     "settings": {"size", "blend", "colour", "mask_erode", "mask_blur", ...},
     "frames": T, "frames_swapped": n, "fps": ..., "width": ..., "height": ...}

A ``graphics`` fake has ``"donor": {"path", "sha256", "start_frame", "stop_frame"}`` (the video
whose face was pasted in, and the range its frames were taken from) instead of ``run`` and
``checkpoint``. A manifest without ``method`` (written before there were two) is an autoencoder's.

The data sets and the benchmarks read these files (never this module); the manifest is written
last, so a fake with a manifest is complete.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np

from fakebench.errors import FakebenchError
from fakebench.files import atomic_path, write_json

SCHEMA = "fakebench.generated/1"
_KEYS = ("schema", "fakebench_version", "video", "masks", "label", "input", "identities", "settings", "frames",
         "frames_swapped", "fps", "width", "height")
METHOD_KEYS = {"autoencoder": ("run", "checkpoint"), "graphics": ("donor",)}  # what each method adds


def fakebench_version() -> str:
    from fakebench import __version__

    return __version__


def output_paths(video: str | os.PathLike) -> dict[str, Path]:
    """``{"video", "masks", "manifest"}`` for a fake written to ``video`` (``x.mp4`` -> ``x.masks.npz``, ``x.json``)."""
    video = Path(video)
    stem = video.name[: -len(video.suffix)] if video.suffix else video.name
    return {"video": video, "masks": video.with_name(f"{stem}.masks.npz"), "manifest": video.with_name(f"{stem}.json")}


class MaskWriter:
    """Streams ``uint8 (H,W)`` masks into ``<path>`` as an ``np.savez_compressed``-style file, key ``masks``.

    The frame count is given up front (the face track knows it), so a whole video's masks never sit
    in memory; ``np.load(path)["masks"]`` reads them back as ``uint8 (T,H,W)``. The file appears
    only when all ``T`` masks were written.
    """

    def __init__(self, path: str | os.PathLike, shape: tuple[int, int, int]):
        self.path = Path(path)
        self.shape = tuple(int(s) for s in shape)
        self.n = 0
        self._ctx = None

    def __enter__(self) -> MaskWriter:
        self._ctx = atomic_path(self.path)
        tmp = self._ctx.__enter__()
        self._zip = zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED)
        self._fh = self._zip.open("masks.npy", "w", force_zip64=True)
        np.lib.format.write_array_header_1_0(self._fh, {"descr": "|u1", "fortran_order": False, "shape": self.shape})
        return self

    def write(self, mask: np.ndarray | None) -> None:
        """One frame's mask (``None``: nothing swapped in this frame)."""
        if self.n >= self.shape[0]:
            raise FakebenchError(f"{self.path}: more than the {self.shape[0]} masks announced")
        if mask is None:
            mask = np.zeros(self.shape[1:], np.uint8)
        if mask.shape != self.shape[1:] or mask.dtype != np.uint8:
            raise ValueError(f"expected a uint8 {self.shape[1:]} mask, got {mask.dtype} {mask.shape}")
        self._fh.write(np.ascontiguousarray(mask).tobytes())
        self.n += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        self._fh.close()
        self._zip.close()
        if exc_type is None and self.n != self.shape[0]:
            exc = FakebenchError(f"{self.path}: {self.n} masks written, {self.shape[0]} announced")
            self._ctx.__exit__(type(exc), exc, None)
            raise exc
        self._ctx.__exit__(exc_type, exc, tb)


def driving_identity(run: Path, video_sha: str, start: int, stop: int, given: str | None) -> tuple[str, int]:
    """Who is in the driving video, and how many frames of ``[start, stop)`` the run trained on.

    When the video is one of the run's inputs (same sha256), its identity; else ``given``, else
    ``"unknown"``. The overlap counts frames inside that input's training range (0 = unseen frames).
    """
    path = Path(run) / "data.json"
    if path.exists():
        data = json.loads(path.read_text())
        for name, ident in data.items():
            for record in ident.get("inputs", []):
                if record.get("sha256") == video_sha:
                    lo, hi = record["train"]
                    overlap = max(0, min(hi, stop) - max(lo, start))
                    if given is not None and given != name:
                        raise FakebenchError(f"--from {given!r}, but this video is an input of identity {name!r} in "
                                             f"{run}/data.json; drop --from or fix it")
                    return name, overlap
    return (given or "unknown"), 0


def build_manifest(*, out: Path, video: Path, video_sha: str, start: int, stop: int, target: str, source: str,
                   method: str, made_by: dict, frames: int, frames_swapped: int, fps: float, width: int,
                   height: int) -> dict:
    """The manifest of a fake; ``made_by`` is the method's own part (its ``describe()``: ``settings`` and
    ``run``/``checkpoint`` or ``donor``)."""
    paths = output_paths(out)
    own = {k: v for k, v in made_by.items() if k != "settings"}
    return {
        "schema": SCHEMA,
        "fakebench_version": fakebench_version(),
        "video": paths["video"].name,
        "masks": paths["masks"].name,
        "label": 1,
        "input": {"path": str(Path(video).resolve()), "sha256": video_sha, "start_frame": int(start),
                  "stop_frame": int(stop)},
        "identities": {"target": target, "source": source},
        "method": method,
        **own,
        "settings": made_by["settings"],
        "frames": int(frames),
        "frames_swapped": int(frames_swapped),
        "fps": float(fps),
        "width": int(width),
        "height": int(height),
    }


def write_manifest(path: str | os.PathLike, manifest: dict) -> None:
    check_manifest(manifest, str(path))
    write_json(path, manifest)


def read_manifest(path: str | os.PathLike) -> dict:
    """Load and check a manifest; ``video`` and ``masks`` come back as absolute paths under ``"paths"``."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise FakebenchError(f"{path}: not a readable manifest ({err}); convert the video again") from err
    check_manifest(manifest, str(path))
    manifest["paths"] = {"video": path.parent / manifest["video"], "masks": path.parent / manifest["masks"]}
    return manifest


def check_manifest(manifest: dict, where: str) -> None:
    """The keys every manifest has and those its method adds (no ``method``: an autoencoder's)."""
    method = manifest.get("method", "autoencoder")
    if method not in METHOD_KEYS:
        raise FakebenchError(f"{where}: method {method!r}; this fakebench knows {', '.join(METHOD_KEYS)}: upgrade "
                             "fakebench or convert the video again")
    missing = [k for k in (*_KEYS, *METHOD_KEYS[method]) if k not in manifest]
    if missing or manifest.get("schema") != SCHEMA:
        raise FakebenchError(f"{where}: expected a {SCHEMA} manifest, got schema {manifest.get('schema')!r}"
                             f"{f' missing {missing}' if missing else ''}")
