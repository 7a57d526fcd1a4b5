"""fakebench's own converted videos, read from their manifests (schema ``fakebench.generated/1``).

Each fake is ``<name>.mp4`` beside ``<name>.json`` (the manifest) and ``<name>.masks.npz`` (key
``masks``: ``uint8 (T,H,W)`` 0/255, one mask per output frame). The manifest::

    {"schema": "fakebench.generated/1", "video": "<name>.mp4", "masks": "<name>.masks.npz", "label": 1,
     "input": {"path": "...", "sha256": "...", "start_frame": 0, "stop_frame": 480},
     "identities": {"target": "a", "source": "b"}, "method": "autoencoder",
     "run": "...", "checkpoint": {"step": 1200, "sha256": "..."},
     "settings": {...}, "frames": 480, "frames_swapped": 470, "fps": 24.0, "width": 360, "height": 288}

A ``graphics`` fake (landmark warp + Poisson blend of a donor video's face) has ``"method":
"graphics"`` and ``"donor": {"path", "sha256", "start_frame", "stop_frame"}`` instead of ``run`` and
``checkpoint``; a manifest without ``method`` is an autoencoder's.

``video``/``masks`` are relative to the manifest's folder; ``input.path`` too when relative.
The root is searched recursively. A ``.json`` beside a same-named video, or any ``.json`` whose
``schema`` starts with ``fakebench.generated``, must be a valid manifest (else the error names the
file); other JSON files (a run's ``config``/``env``) are ignored.

Fakes: method ``fakebench-ae`` (autoencoder) or ``fakebench-<method>`` (``fakebench-graphics``),
``video_id`` ``generated/<sha256 of the video, 16 hex>``; extra columns ``mask_path``, ``step``,
``checkpoint_sha256``, ``run`` (empty for a graphics fake), ``settings`` (JSON text),
``frames_swapped``. With ``include_real`` (default) the real input segments are indexed too
(label 0, method ``original``, target = the driving video's person), once per distinct
(input content, segment), ``video_id`` ``real/<input sha256, 16 hex>:<start>-<stop>``: derived
from content and segment, so moving the files keeps every id. An input that is missing or whose
sha256 no longer matches is reported and left out. Source group: the real input segment a fake
was converted from (``real/<input sha256, 16 hex>:<start>-<stop>``, its ``original_id``); the real
segment's row has the same group (with or without ``include_real``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fakebench.datasets.index import VideoRecord
from fakebench.datasets.layouts.base import LAYOUTS, layout_error, log, require_root, warn_list
from fakebench.errors import DatasetLayoutError
from fakebench.files import content_key

SCHEMA = "fakebench.generated/1"
METHODS = {"autoencoder": "fakebench-ae"}  # the index's name of a swap method, where not "fakebench-<method>"
EXPECTED = f"<root>/**/<name>.json manifests (schema {SCHEMA}) beside <name>.mp4 and <name>.masks.npz"


@LAYOUTS.register("generated")
@dataclass(frozen=True)
class Generated:
    """Converted fakes from their manifests, plus (``include_real``) the real segments they were made from."""

    include_real: bool = True
    name: str = "generated"  # the data set name

    def records(self, root: Path | None) -> list[VideoRecord]:
        root = require_root(root, "generated", EXPECTED)
        manifests = [(path, m) for path in sorted(root.rglob("*.json")) if (m := _read(path)) is not None]
        if not manifests:
            raise layout_error(root, EXPECTED)
        records: list[VideoRecord] = []
        reals: dict[str, VideoRecord] = {}
        no_video, no_mask, no_input, changed = [], [], [], []
        for path, manifest in manifests:
            folder = path.parent
            video = folder / manifest["video"]
            if not video.is_file():
                no_video.append(str(path))
                continue
            inp, who = manifest["input"], manifest["identities"]
            real_id = f"real/{inp['sha256'][:16]}:{inp['start_frame']}-{inp['stop_frame']}"
            mask = folder / manifest["masks"] if manifest.get("masks") else None
            if mask is not None and not mask.is_file():
                no_mask.append(str(path))
                mask = None
            checkpoint = manifest.get("checkpoint") or {}
            extra = {"mask_path": str(mask) if mask else "", "step": checkpoint.get("step"),
                     "checkpoint_sha256": checkpoint.get("sha256", ""), "run": str(manifest.get("run", "")),
                     "settings": json.dumps(manifest.get("settings", {}), sort_keys=True),
                     "frames_swapped": manifest.get("frames_swapped")}
            records.append(VideoRecord(video_id=f"{self.name}/{content_key(video)[:16]}", path=str(video),
                                       label=int(manifest["label"]), dataset=self.name, method=method_name(manifest),
                                       target_id=str(who["target"]), source_id=str(who["source"]),
                                       original_id=real_id, source_group=real_id, extra=extra))
            if not self.include_real or real_id in reals:
                continue
            source = Path(inp["path"]).expanduser()
            source = source if source.is_absolute() else folder / source
            if not source.is_file():
                no_input.append(str(source))
                continue
            if content_key(source) != inp["sha256"]:
                changed.append(str(source))
                continue
            reals[real_id] = VideoRecord(video_id=real_id, path=str(source.resolve()), label=0, dataset=self.name,
                                         method="original", target_id=str(who["target"]), source_group=real_id,
                                         start_frame=int(inp["start_frame"]), stop_frame=int(inp["stop_frame"]))
        warn_list("manifests whose video is missing (not indexed)", no_video)
        warn_list("manifests whose masks file is missing (indexed with an empty mask_path)", no_mask)
        warn_list("real inputs that are missing (their real segments are not indexed)", no_input)
        warn_list("real inputs whose sha256 differs from the manifest's (changed since conversion; not indexed)",
                  changed)
        log.info("%s: %d manifests, %d fakes, %d real segments", root, len(manifests), len(records), len(reals))
        return records + list(reals.values())


def method_name(manifest: dict) -> str:
    """The index's ``method`` of a fake: ``fakebench-ae`` for the autoencoder (no ``method`` key: written before
    there were two), else ``fakebench-<method>``."""
    method = manifest.get("method", "autoencoder")
    return METHODS.get(method, f"fakebench-{method}")


def _read(path: Path) -> dict | None:
    """The manifest in ``path``, None for a JSON file that is not meant as one; raises on a broken manifest."""
    from fakebench.media import VIDEO_EXTS

    beside_video = any(path.with_suffix(ext).is_file() for ext in VIDEO_EXTS)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        if beside_video:
            raise DatasetLayoutError(f"{path}: not readable JSON ({err}); expected a {SCHEMA} manifest") from err
        return None
    schema = data.get("schema") if isinstance(data, dict) else None
    if not (isinstance(schema, str) and schema.startswith("fakebench.generated")):
        if beside_video:
            raise DatasetLayoutError(f"{path}: schema {schema!r}; expected {SCHEMA!r} for a manifest beside its video "
                                     "(re-run the conversion, or move unrelated JSON files away from the videos)")
        return None
    if schema != SCHEMA:
        raise DatasetLayoutError(f"{path}: schema {schema!r}; this fakebench reads {SCHEMA!r}: upgrade fakebench "
                                 "or re-run the conversion")
    _check(path, data)
    return data


def _check(path: Path, data: dict) -> None:
    def need(obj: dict, key: str, kind: type | tuple[type, ...], where: str = "") -> None:
        value = obj.get(key) if isinstance(obj, dict) else None
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
            raise DatasetLayoutError(f"{path}: {where}{key} is {value!r}; expected {names} ({SCHEMA} manifest)")

    need(data, "video", str)
    need(data, "label", int)
    if data["label"] not in (0, 1):
        raise DatasetLayoutError(f"{path}: label {data['label']}; expected 1 (fake) or 0")
    need(data, "input", dict)
    for key, kind in (("path", str), ("sha256", str), ("start_frame", int), ("stop_frame", int)):
        need(data["input"], key, kind, "input.")
    if not 0 <= data["input"]["start_frame"] < data["input"]["stop_frame"]:
        raise DatasetLayoutError(f"{path}: input frames [{data['input']['start_frame']}, {data['input']['stop_frame']}); "
                                 "expected 0 <= start_frame < stop_frame")
    need(data, "identities", dict)
    for key in ("target", "source"):
        need(data["identities"], key, (str, int), "identities.")
    if "method" in data:
        need(data, "method", str)
