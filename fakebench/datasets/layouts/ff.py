"""FaceForensics++ (and the DeepFakeDetection set it hosts), as its download script lays it out.

::

    <root>/original_sequences/youtube/<c23>/videos/000.mp4                      real, target 000
    <root>/original_sequences/actors/<c23>/videos/01__exit_phone_room.mp4       real (DeepFakeDetection), actor 01
    <root>/manipulated_sequences/<Method>/<c23>/videos/000_003.mp4              fake, target 000, source 003
    <root>/manipulated_sequences/DeepFakeDetection/<c23>/videos/01_02__exit_phone_room__YVGY8LOK.mp4
                                                                                fake, target 01, source 02
    <root>/splits/{train,val,test}.json  (or <root>/*.json, or --splits DIR)    [[target, source], ...]

Methods: Deepfakes, Face2Face, FaceSwap, NeuralTextures, FaceShifter, DeepFakeDetection. An
official split file lists [target, source] pairs; both ``a_b`` and ``b_a`` are fakes of that
split and the originals ``a`` and ``b`` belong to it. DeepFakeDetection is outside the official
splits (split ``""``). Its actor originals are indexed only when DeepFakeDetection is.

Source group (``source_group``): the target, ``ff++:000`` for real ``000`` and every fake on its
video (``000_003``); DeepFakeDetection's the actor (``ff++:01``). Shared YouTube sources are not
looked for: the target id is the rule. A name without identity is its own group.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from fakebench.datasets.index import VideoRecord
from fakebench.datasets.layouts.base import LAYOUTS, found, layout_error, log, pick_names, require_root, videos_in, warn_list
from fakebench.errors import ConfigError, DatasetLayoutError

METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter", "DeepFakeDetection")
COMPRESSIONS = ("raw", "c23", "c40")
DATASET = "ff++"
EXPECTED = ("<root>/original_sequences/youtube/{c}/videos/000.mp4 and "
            "<root>/manipulated_sequences/<method>/{c}/videos/000_003.mp4")
_YOUTUBE = re.compile(r"(\d{3})")
_PAIR = re.compile(r"(\d{3})_(\d{3})")
_ACTOR = re.compile(r"(\d{2})__(.+)")
_DFD = re.compile(r"(\d{2})_(\d{2})__(.+)__([A-Za-z0-9]+)")


@LAYOUTS.register("ff++")
@dataclass(frozen=True)
class FaceForensics:
    """FaceForensics++ at one compression, with its official splits where the split files are found."""

    compression: str = "c23"  # the level most papers train on
    methods: tuple[str, ...] = ()  # () = every method folder found
    splits: str | None = None  # folder with train/val/test.json; None = <root>/splits, then <root>

    def records(self, root: Path | None) -> list[VideoRecord]:
        comp = {"c0": "raw"}.get(self.compression, self.compression)
        if comp not in COMPRESSIONS:
            raise ConfigError(f"unknown --compression {self.compression!r} for ff++; expected raw (or c0), c23 or c40")
        expected = EXPECTED.format(c=comp)
        root = require_root(root, "ff++", expected)
        originals, manipulated = root / "original_sequences", root / "manipulated_sequences"
        if not originals.is_dir() and not manipulated.is_dir():
            raise layout_error(root, expected)
        methods = self._methods(manipulated)
        split_of_pair, split_of_id = _official_splits(self._split_files(root))

        records: list[VideoRecord] = []
        youtube = originals / "youtube" / comp / "videos"
        if any(m != "DeepFakeDetection" for m in methods) or not methods:
            if youtube.is_dir():
                records += self._originals(youtube, "original", _YOUTUBE, comp, split_of_id)
            else:
                log.warning("no originals at %s (%s): the index holds fakes only", youtube, _found_comp(originals / "youtube"))
        if "DeepFakeDetection" in methods:
            actors = originals / "actors" / comp / "videos"
            if actors.is_dir():
                records += self._originals(actors, "actors", _ACTOR, comp, {})
            else:
                log.warning("no DeepFakeDetection originals at %s (%s)", actors, _found_comp(originals / "actors"))
        for method in methods:
            folder = manipulated / method / comp / "videos"
            if not folder.is_dir():
                if self.methods:
                    raise layout_error(root, f"<root>/manipulated_sequences/{method}/{comp}/videos/*.mp4 "
                                             f"({_found_comp(manipulated / method)})", manipulated / method)
                log.warning("%s: no %s/videos folder (%s); %s not indexed", manipulated / method, comp,
                            _found_comp(manipulated / method), method)
                continue
            records += self._fakes(folder, method, comp, split_of_pair)
        if not records:
            raise DatasetLayoutError(f"{root}: no videos at {expected}; "
                                     f"{_found_comp(originals / 'youtube')} (pass --compression to pick another)")
        return records

    def _methods(self, manipulated: Path) -> list[str]:
        present = [d.name for d in sorted(manipulated.iterdir()) if d.is_dir()] if manipulated.is_dir() else []
        if self.methods:
            return pick_names(self.methods, METHODS, "ff++ method", "--methods")
        unknown = [m for m in present if m not in METHODS]
        warn_list(f"{manipulated}: folders that are not FF++ methods ({', '.join(METHODS)}), not indexed", unknown)
        return [m for m in METHODS if m in present]

    def _split_files(self, root: Path) -> dict[str, Path]:
        folders = [Path(self.splits).expanduser()] if self.splits else [root / "splits", root]
        for folder in folders:
            files = {s: folder / f"{s}.json" for s in ("train", "val", "test") if (folder / f"{s}.json").is_file()}
            if files:
                return files
        if self.splits:
            raise layout_error(Path(self.splits), "train.json, val.json and test.json (FF++'s official splits)")
        log.info("no FF++ split files (train/val/test.json) in %s: split left empty; pass --splits DIR",
                 " or ".join(str(f) for f in folders))
        return {}

    def _originals(self, folder: Path, method: str, pattern: re.Pattern, comp: str,
                   split_of_id: dict[str, str]) -> list[VideoRecord]:
        out, odd = [], []
        for path in videos_in(folder):
            m = pattern.fullmatch(path.stem)
            if m is None:
                odd.append(path.name)
            target = m.group(1) if m else ""
            out.append(VideoRecord(video_id=f"{DATASET}/{method}/{comp}/{path.stem}", path=str(path), label=0,
                                   dataset=DATASET, method=method, compression=comp, target_id=target,
                                   split=split_of_id.get(target, ""), source_group=_group(target)))
        warn_list(f"{folder}: names that do not follow FF++'s pattern (indexed without identity)", odd)
        return out

    def _fakes(self, folder: Path, method: str, comp: str, split_of_pair: dict[tuple[str, str], str]) -> list[VideoRecord]:
        out, odd = [], []
        dfd = method == "DeepFakeDetection"
        for path in videos_in(folder):
            m = (_DFD if dfd else _PAIR).fullmatch(path.stem)
            target = source = original = ""
            if m is None:
                odd.append(path.name)
            elif dfd:
                target, source = m.group(1), m.group(2)
                original = f"{DATASET}/actors/{comp}/{target}__{m.group(3)}"
            else:
                target, source = m.group(1), m.group(2)
                original = f"{DATASET}/original/{comp}/{target}"
            out.append(VideoRecord(video_id=f"{DATASET}/{method}/{comp}/{path.stem}", path=str(path), label=1,
                                   dataset=DATASET, method=method, compression=comp, target_id=target,
                                   source_id=source, original_id=original, source_group=_group(target),
                                   split="" if dfd else split_of_pair.get((target, source), "")))
        warn_list(f"{folder}: names that do not follow FF++'s pattern (indexed without identity)", odd)
        return out


def _group(target: str) -> str:
    """The source group of a video of ``target`` (``ff++:000``); "" (the video itself) without one."""
    return f"{DATASET}:{target}" if target else ""


def _found_comp(folder: Path) -> str:
    if not folder.is_dir():
        return f"{folder} does not exist"
    return found(folder).replace("found folders", "found compressions")


def _official_splits(files: dict[str, Path]) -> tuple[dict[tuple[str, str], str], dict[str, str]]:
    """(target, source) -> split for both orders of every pair, and id -> split."""
    split_of_pair: dict[tuple[str, str], str] = {}
    split_of_id: dict[str, str] = {}
    for split, path in files.items():
        try:
            pairs = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise DatasetLayoutError(f"{path}: not readable JSON ({err}); expected FF++'s split file, "
                                     'a list of [target, source] pairs like [["953", "974"], ...]') from err
        if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
            raise DatasetLayoutError(f"{path}: expected a JSON list of [target, source] pairs like "
                                     f'[["953", "974"], ...], got {json.dumps(pairs)[:80]}')
        for a, b in pairs:
            a, b = str(a), str(b)
            for vid in (a, b):
                if split_of_id.setdefault(vid, split) != split:
                    raise DatasetLayoutError(f"{path}: id {vid} is also in {split_of_id[vid]}.json; the official "
                                             "splits are disjoint, so these are not FF++'s split files")
            split_of_pair[(a, b)] = split_of_pair[(b, a)] = split
    return split_of_pair, split_of_id
