"""DeeperForensics-1.0, laid out as its unzip script leaves it (dataset/README.md of the official repo).

::

    <root>/manipulated_videos/<variant>/<target>_<actor>.mp4   fake: actor's face on FF++ video <target>
    <root>/lists/splits/{train,val,test}.txt                   one fake name per line ("000_M101.mp4")
    <root>/source_videos/<actor>/.../<actor>_light_..._camera_<dir>.mp4   the actors' own recordings

Variants (11): ``end_to_end`` (the 1,000 raw fakes of the paper), ``reenact_postprocess``,
``end_to_end_level_{1..5}``, ``end_to_end_random_level``, ``end_to_end_mix_{2,3,4}_distortions``;
each holds the same 1,000 target/actor pairs. ``--methods`` picks variants (default
``end_to_end``; ``all`` = every variant found); the variant is the ``method`` column.

The real part is not in DeeperForensics-1.0: the authors use FF++'s 1,000 YouTube videos at c23
(the targets). Pass the FF++ root as ``--real-root`` (``<real-root>/original_sequences/youtube/
c23/videos/000.mp4``, or a folder of ``000.mp4`` files); when the root itself holds
``original_sequences`` it is used. Only targets that appear in the indexed fakes are indexed.
The source videos are the actors' recordings used to build the fakes, which the authors say are
NOT the real part for detection; ``--include-source-videos`` adds them as real (method
``source``, target = actor). Splits: the official lists group fakes by source actor; a real
target video takes the split of its fakes, a source video the split of its actor.

Source group: the target, as FF++ has it (``ff++:000`` for fake ``000_M101`` and the real target
``000``, which is FF++'s file: merged with an FF++ index, they stay one group); a source video:
its actor (``deeperforensics:M101``); a name without identity is its own group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fakebench.datasets.index import VideoRecord
from fakebench.datasets.layouts.base import LAYOUTS, layout_error, log, pick_names, require_root, videos_in, warn_list
from fakebench.datasets.layouts.ff import DATASET as FFPP
from fakebench.errors import DatasetLayoutError

DATASET = "deeperforensics"
VARIANTS = ("end_to_end", "reenact_postprocess", *(f"end_to_end_level_{i}" for i in range(1, 6)),
            "end_to_end_random_level", *(f"end_to_end_mix_{j}_distortions" for j in range(2, 5)))
EXPECTED = ("<root>/manipulated_videos/<variant>/000_M101.mp4 (variants: end_to_end, end_to_end_level_1, ...), "
            "<root>/lists/splits/{train,val,test}.txt and <root>/source_videos/<actor>/")
_FAKE = re.compile(r"(\d{3})_([MW]\d{3})")


@LAYOUTS.register("deeperforensics")
@dataclass(frozen=True)
class DeeperForensics:
    """DeeperForensics-1.0 fakes (chosen variants) with FF++'s c23 target videos as the real part."""

    methods: tuple[str, ...] = ("end_to_end",)  # manipulated_videos/<variant> folders; ("all",) = all found
    real_root: str | None = None  # FF++ root (or a folder of 000.mp4 files) for the real target videos
    include_source_videos: bool = False  # the actors' recordings, as real videos (not the authors' protocol)

    def records(self, root: Path | None) -> list[VideoRecord]:
        root = require_root(root, DATASET, EXPECTED)
        manipulated = root / "manipulated_videos"
        if not manipulated.is_dir():
            raise layout_error(root, EXPECTED)
        present = [d.name for d in sorted(manipulated.iterdir()) if d.is_dir()]
        if [m.lower() for m in self.methods] == ["all"]:
            variants = present
        else:
            variants = pick_names(self.methods, present, "DeeperForensics variant (manipulated_videos/<variant>)",
                                  "--methods")
        split_of = _splits(root / "lists" / "splits")
        split_of_actor: dict[str, set[str]] = {}
        split_of_target: dict[str, set[str]] = {}
        records: list[VideoRecord] = []
        odd: list[str] = []
        for variant in variants:
            for path in videos_in(manipulated / variant):
                m = _FAKE.fullmatch(path.stem)
                target, actor = (m.group(1), m.group(2)) if m else ("", "")
                if m is None:
                    odd.append(f"{variant}/{path.name}")
                split = split_of.get(path.stem, "")
                if m:
                    split_of_actor.setdefault(actor, set()).add(split)
                    split_of_target.setdefault(target, set()).add(split)
                records.append(VideoRecord(video_id=f"{DATASET}/{variant}/{path.stem}", path=str(path), label=1,
                                           dataset=DATASET, method=variant, target_id=target, source_id=actor,
                                           original_id=f"{DATASET}/target/{target}" if target else "", split=split,
                                           source_group=_target_group(target)))
        warn_list(f"{manipulated}: names that are not <target>_<actor>.mp4 (indexed without identity)", odd)
        records += self._targets(root, split_of_target)
        if self.include_source_videos:
            records += _sources(root / "source_videos", split_of_actor)
        return records

    def _targets(self, root: Path, split_of_target: dict[str, set[str]]) -> list[VideoRecord]:
        real_root = Path(self.real_root).expanduser().resolve() if self.real_root else root
        folder = real_root / "original_sequences" / "youtube" / "c23" / "videos"
        if not folder.is_dir():
            if self.real_root is None:
                log.warning("no real videos: DeeperForensics-1.0's real part is FF++'s c23 YouTube videos; pass "
                            "--real-root FF++_ROOT")
                return []
            folder = real_root
        on_disk = {p.stem: p for p in videos_in(folder)}
        if not on_disk:
            raise layout_error(real_root, "FF++'s <real-root>/original_sequences/youtube/c23/videos/000.mp4 "
                                          "(or a folder of 000.mp4 files)")
        records, absent = [], []
        for target in sorted(split_of_target):
            path = on_disk.get(target)
            if path is None:
                absent.append(f"{target}.mp4")
                continue
            splits = split_of_target[target]
            records.append(VideoRecord(video_id=f"{DATASET}/target/{target}", path=str(path), label=0, dataset=DATASET,
                                       method="original", compression="c23", target_id=target,
                                       source_group=_target_group(target),
                                       split=next(iter(splits)) if len(splits) == 1 else ""))
        warn_list(f"{folder}: target videos of indexed fakes that are missing (not indexed)", absent)
        return records


def _target_group(target: str) -> str:
    """FF++'s source group of target video ``target`` (the same string as the ff++ layout's); "" without one."""
    return f"{FFPP}:{target}" if target else ""


def _splits(folder: Path) -> dict[str, str]:
    """fake name (stem) -> split, from lists/splits/{train,val,test}.txt."""
    out: dict[str, str] = {}
    files = [folder / f"{s}.txt" for s in ("train", "val", "test")]
    if not any(f.is_file() for f in files):
        log.warning("no split lists in %s (train/val/test.txt): split left empty", folder)
        return out
    for file in files:
        if not file.is_file():
            continue
        split = file.stem
        for line in file.read_text().splitlines():
            name = line.strip()
            if not name:
                continue
            stem = Path(name.replace("\\", "/")).stem
            if out.setdefault(stem, split) != split:
                raise DatasetLayoutError(f"{file}: {name} is also in {out[stem]}.txt; the official splits are disjoint")
    return out


def _sources(folder: Path, split_of_actor: dict[str, set[str]]) -> list[VideoRecord]:
    if not folder.is_dir():
        raise layout_error(folder.parent, "<root>/source_videos/<actor>/... for --include-source-videos")
    records = []
    for actor_dir in sorted(d for d in folder.iterdir() if d.is_dir()):
        actor = actor_dir.name
        splits = split_of_actor.get(actor, set())
        split = next(iter(splits)) if len(splits) == 1 else ""
        for path in videos_in(actor_dir, recursive=True):
            rel = path.relative_to(folder).with_suffix("").as_posix()
            records.append(VideoRecord(video_id=f"{DATASET}/source/{rel}", path=str(path), label=0, dataset=DATASET,
                                       method="source", target_id=actor, split=split,
                                       source_group=f"{DATASET}:{actor}"))
    return records
