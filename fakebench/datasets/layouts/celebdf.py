"""Celeb-DF (v1 and v2), as distributed.

::

    <root>/Celeb-real/id0_0000.mp4            real, target id0
    <root>/YouTube-real/00000.mp4             real, identity unknown
    <root>/Celeb-synthesis/id0_id16_0000.mp4  fake: id16's face on id0's video Celeb-real/id0_0000.mp4
    <root>/List_of_testing_videos.txt         lines "<label> <folder>/<file>.mp4", label 1 = REAL, 0 = fake

The listed videos are the test split; the others are left unassigned (split ``""``): Celeb-DF
defines no train split. The list's labels are checked against the folders (1 must mean real),
so a list rewritten the other way round is refused instead of silently flipping the labels.
Videos inside a ``videos/`` subfolder (a common re-arrangement) are read too.

Source group: the target celebrity, ``<dataset>:id0`` for ``Celeb-real/id0_0000`` and every fake
on id0's videos (``id0_id1_0000``); a ``YouTube-real`` video (no person known) is its own group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fakebench.datasets.index import VideoRecord
from fakebench.datasets.layouts.base import LAYOUTS, layout_error, log, require_root, videos_in, warn_list
from fakebench.errors import ConfigError, DatasetLayoutError

FOLDERS = {"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1}
TEST_LIST = "List_of_testing_videos.txt"
EXPECTED = ("<root>/Celeb-real/id0_0000.mp4, <root>/Celeb-synthesis/id0_id1_0000.mp4 "
            f"(and <root>/YouTube-real/00000.mp4, <root>/{TEST_LIST})")
_REAL = re.compile(r"(id\d+)_(\d+)")
_FAKE = re.compile(r"(id\d+)_(id\d+)_(\d+)")
_LINE = re.compile(r"([01])\s+(\S.*?)\s*")


@LAYOUTS.register("celeb-df")
@dataclass(frozen=True)
class CelebDF:
    """Celeb-DF v1/v2 with List_of_testing_videos.txt as the test split."""

    version: str = ""  # "v1" or "v2"; "" = from the root's name (Celeb-DF-v2 -> v2), else the data set is "celeb-df"

    def records(self, root: Path | None) -> list[VideoRecord]:
        root = require_root(root, "celeb-df", EXPECTED)
        version = self.version or _version_from_name(root.name)
        if version not in ("", "v1", "v2"):
            raise ConfigError(f"unknown --version {self.version!r} for celeb-df; expected v1 or v2")
        dataset = f"celeb-df-{version}" if version else "celeb-df"
        present = {name: _folder_videos(root / name) for name in FOLDERS if (root / name).is_dir()}
        if "Celeb-synthesis" not in present or not ({"Celeb-real", "YouTube-real"} & set(present)):
            raise layout_error(root, EXPECTED)
        test = _test_list(root / TEST_LIST)

        records: list[VideoRecord] = []
        seen: set[str] = set()
        odd: list[str] = []
        for folder, paths in present.items():
            label = FOLDERS[folder]
            for path in paths:
                rel = f"{folder}/{path.name}"
                target = source = original = ""
                m = (_FAKE if label else _REAL).fullmatch(path.stem)
                if m and label:
                    target, source = m.group(1), m.group(2)
                    original = f"{dataset}/Celeb-real/{target}_{m.group(3)}"
                elif m:
                    target = m.group(1)
                elif folder != "YouTube-real":
                    odd.append(rel)
                listed = test.get(rel)
                if listed is not None and listed[0] != (1 - label):
                    raise DatasetLayoutError(
                        f"{root / TEST_LIST} line {listed[1]}: label {listed[0]} for {rel}, a "
                        f"{'fake' if label else 'real'} folder; in Celeb-DF's list 1 = real and 0 = fake, so this "
                        "list is not Celeb-DF's or was rewritten with the other convention")
                seen.add(rel)
                video_id = f"{dataset}/{folder}/{path.stem}"
                records.append(VideoRecord(video_id=video_id, path=str(path), label=label, dataset=dataset,
                                           method=folder, target_id=target, source_id=source, original_id=original,
                                           source_group=f"{dataset}:{target}" if target else video_id,
                                           split="test" if listed is not None else ""))
        warn_list(f"{root}: Celeb-DF names without a parseable identity (indexed without one)", odd)
        warn_list(f"{root / TEST_LIST}: listed videos that are not on disk (not indexed)",
                  sorted(set(test) - seen))
        return records


def _version_from_name(name: str) -> str:
    m = re.search(r"v([12])(?:\D|$)", name.lower())
    return f"v{m.group(1)}" if m else ""


def _folder_videos(folder: Path) -> list[Path]:
    return videos_in(folder) or videos_in(folder / "videos")


def _test_list(path: Path) -> dict[str, tuple[int, int]]:
    """``folder/file.mp4`` -> (label as written, line number)."""
    if not path.is_file():
        log.warning("%s is missing: no test split (Celeb-DF's test videos are the ones listed there)", path)
        return {}
    out: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.fullmatch(line.strip())
        if m is None:
            raise DatasetLayoutError(f"{path} line {number}: {line.strip()[:60]!r}; expected '<1|0> <folder>/<file>.mp4' "
                                     "(1 = real)")
        parts = m.group(2).replace("\\", "/").split("/")
        out[f"{parts[0]}/{parts[-1]}"] = (int(m.group(1)), number)  # folder/file, also for folder/videos/file
    return out
