"""DFDC (the full Kaggle release) and DFDC-preview.

Full DFDC::

    <root>/dfdc_train_part_0/metadata.json   {"aaqaifqrwn.mp4": {"label": "FAKE", "split": "train",
                                               "original": "vpmyeepbep.mp4"}, "vpmyeepbep.mp4": {"label": "REAL", ...}}
    <root>/dfdc_train_part_0/aaqaifqrwn.mp4
    <root>/test/labels.csv                   filename,label   (label 1 = fake, 0 = real; or FAKE/REAL)
    <root>/test/aalscayrfi.mp4               (or anywhere under the folder that holds labels.csv)

Any folder (the root or up to two levels below) with a ``metadata.json`` is a part; its split is
the entries' ``split`` (``train`` when absent). Any folder with a ``labels.csv`` is the test set.
DFDC has no person ids: identities stay empty and a fake's ``original_id`` points at its real
video (identity splits then keep a fake with its original). Source group: a fake's original (its
``video_id``), a real its own, so a real video and its fakes share one; a test video, or a fake
without an ``original``, is its own.

DFDC-preview::

    <root>/dataset.json   {"original_videos/<...>/x.mp4": {"label": "real", "set": "train"},
                           "method_A/<...>/y.mp4": {"label": "fake", "set": "test"}, ...}

method = the first folder (``original_videos`` -> ``original``, ``method_A``, ``method_B``); split
= ``set``. Identities are taken from the entry's ``target_id``/``source_id`` keys when present;
the source group is then the person (``dfdc-preview:<target>``), else the video itself.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from fakebench.datasets.index import VideoRecord
from fakebench.datasets.layouts.base import LAYOUTS, layout_error, log, require_root, videos_in, warn_list
from fakebench.errors import DatasetLayoutError

EXPECTED = ("<root>/dfdc_train_part_*/metadata.json with the videos beside it, a test folder with labels.csv, "
            "or DFDC-preview's <root>/dataset.json")
_LABELS = {"fake": 1, "real": 0, "1": 1, "0": 0}
_SPLITS = {"train": "train", "val": "val", "validation": "val", "test": "test"}


@LAYOUTS.register("dfdc")
@dataclass(frozen=True)
class DFDC:
    """DFDC part folders (metadata.json), its test labels (labels.csv), or DFDC-preview (dataset.json)."""

    def records(self, root: Path | None) -> list[VideoRecord]:
        root = require_root(root, "dfdc", EXPECTED)
        if (root / "dataset.json").is_file():
            return _preview(root)
        folders = [root, *(d for d in sorted(root.iterdir()) if d.is_dir()),
                   *(d for d in sorted(root.glob("*/*")) if d.is_dir())]
        tests = [d for d in folders if (d / "labels.csv").is_file()]
        parts = [d for d in folders if (d / "metadata.json").is_file() and d not in tests]
        if not parts and not tests:
            raise layout_error(root, EXPECTED)
        records: list[VideoRecord] = []
        for part in parts:
            records += _part(root, part)
        for test in tests:
            records += _test(root, test)
        return records


def _label(value, where: Path, key: str) -> int:
    label = _LABELS.get(str(value).strip().lower())
    if label is None:
        raise DatasetLayoutError(f"{where}: label {value!r} for {key}; expected FAKE or REAL (or 1/0, 1 = fake)")
    return label


def _name(root: Path, folder: Path) -> str:
    return folder.relative_to(root).as_posix() if folder != root else root.name


def _part(root: Path, part: Path) -> list[VideoRecord]:
    meta_file = part / "metadata.json"
    try:
        meta = json.loads(meta_file.read_text())
    except (OSError, ValueError) as err:
        raise DatasetLayoutError(f"{meta_file}: not readable JSON ({err}); expected DFDC's metadata.json") from err
    if not isinstance(meta, dict) or not all(isinstance(v, dict) and "label" in v for v in meta.values()):
        raise DatasetLayoutError(f'{meta_file}: expected {{"<name>.mp4": {{"label": "FAKE"|"REAL", "original": ...}}}} '
                                 "for every video")
    on_disk = {p.name: p for p in videos_in(part, recursive=True)}
    name = _name(root, part)
    records = []
    for key, entry in meta.items():
        path = on_disk.get(Path(key).name)
        if path is None:
            continue
        label = _label(entry["label"], meta_file, key)
        original = entry.get("original") if label else None
        split = _SPLITS.get(str(entry.get("split") or "train").lower(), "")
        video_id = f"dfdc/{name}/{Path(key).stem}"
        original_id = f"dfdc/{name}/{Path(original).stem}" if original else ""
        records.append(VideoRecord(video_id=video_id, path=str(path), label=label, dataset="dfdc",
                                   method="dfdc" if label else "original", split=split, original_id=original_id,
                                   source_group=original_id or video_id))
    listed = {Path(k).name for k in meta}
    warn_list(f"{meta_file}: listed videos that are not on disk (not indexed)", sorted(listed - set(on_disk)))
    warn_list(f"{part}: videos without an entry in metadata.json (no label, not indexed)", sorted(set(on_disk) - listed))
    return records


def _test(root: Path, folder: Path) -> list[VideoRecord]:
    labels_file = folder / "labels.csv"
    try:
        with open(labels_file, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, csv.Error) as err:
        raise DatasetLayoutError(f"{labels_file}: not a readable CSV ({err})") from err
    if rows and not {"filename", "label"} <= set(rows[0]):
        raise DatasetLayoutError(f"{labels_file}: columns {', '.join(rows[0])}; expected filename,label (1 = fake)")
    on_disk = {p.name: p for p in videos_in(folder, recursive=True)}
    name = _name(root, folder)
    records, absent = [], []
    for row in rows:
        key = Path(row["filename"].strip()).name
        path = on_disk.get(key)
        if path is None:
            absent.append(key)
            continue
        label = _label(row["label"], labels_file, key)
        video_id = f"dfdc/{name}/{Path(key).stem}"
        records.append(VideoRecord(video_id=video_id, path=str(path), label=label, dataset="dfdc",
                                   method="dfdc" if label else "original", split="test", source_group=video_id))
    warn_list(f"{labels_file}: listed videos that are not on disk (not indexed)", absent)
    warn_list(f"{folder}: videos without a row in labels.csv (not indexed)",
              sorted(set(on_disk) - {Path(r["filename"].strip()).name for r in rows}))
    return records


def _preview(root: Path) -> list[VideoRecord]:
    index_file = root / "dataset.json"
    try:
        entries = json.loads(index_file.read_text())
    except (OSError, ValueError) as err:
        raise DatasetLayoutError(f"{index_file}: not readable JSON ({err}); expected DFDC-preview's dataset.json") from err
    if not isinstance(entries, dict) or not all(isinstance(v, dict) and "label" in v for v in entries.values()):
        raise DatasetLayoutError(f'{index_file}: expected {{"<folder>/.../<name>.mp4": {{"label": "real"|"fake", '
                                 '"set": "train"|"test"}}}} for every video')
    records, absent = [], []
    for key, entry in entries.items():
        path = root / key
        if not path.is_file():
            absent.append(key)
            continue
        label = _label(entry["label"], index_file, key)
        top = Path(key).parts[0]
        method = "original" if top == "original_videos" else top
        records.append(VideoRecord(video_id=f"dfdc-preview/{Path(key).with_suffix('').as_posix()}", path=str(path),
                                   label=label, dataset="dfdc-preview", method=method,
                                   target_id=str(entry.get("target_id") or ""), source_id=str(entry.get("source_id") or ""),
                                   split=_SPLITS.get(str(entry.get("set", "")).lower(), "")))
    warn_list(f"{index_file}: listed videos that are not on disk (not indexed)", absent)
    if not records:
        log.warning("%s lists %d videos and none is on disk", index_file, len(entries))
    return records
