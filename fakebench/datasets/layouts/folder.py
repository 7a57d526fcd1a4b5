"""Any folder of real and fake videos.

::

    <root>/real/**/*.mp4                 real
    <root>/fake/**/*.mp4                 fake; fake/<method>/x.mp4 gives method <method>
    <root>/{train,val,test}/{real,fake}/**   the same, with the split taken from the top folder

``real``/``fake`` match case-insensitively (``Real``, ``FAKE``). A video's id is the data set name
(the root folder's name, or ``--name``) plus its path under the root; identities are unknown.
An optional ``<root>/source_groups.csv`` (columns ``path`` relative to the root, ``source_group``)
says which videos share a source (a real clip and the fakes made from it, clips of one recording):
the bootstrap resamples those groups; a video it does not list is its own group.
Files that are not videos (by extension) are counted in a warning and not indexed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fakebench.datasets.index import VideoRecord
from fakebench.datasets.layouts.base import LAYOUTS, layout_error, require_root, videos_in, warn_list

EXPECTED = "<root>/real/**/*.mp4 and <root>/fake/**/*.mp4 (or <root>/{train,val,test}/{real,fake}/**)"
_LABELS = {"real": 0, "fake": 1}
_SPLITS = ("train", "val", "test")
GROUPS_FILE = "source_groups.csv"


@LAYOUTS.register("folder")
@dataclass(frozen=True)
class Folder:
    """real/ and fake/ trees, optionally under train/, val/, test/."""

    name: str = ""  # the data set name; "" = the root folder's name

    def records(self, root: Path | None) -> list[VideoRecord]:
        from fakebench.media import VIDEO_EXTS

        root = require_root(root, "folder", EXPECTED)
        dataset = self.name or root.name
        trees = [(split, child, _LABELS[child.name.lower()])
                 for split, base in [("", root), *((s, _child(root, s)) for s in _SPLITS)] if base is not None
                 for child in sorted(base.iterdir()) if child.is_dir() and child.name.lower() in _LABELS]
        if not trees:
            raise layout_error(root, EXPECTED)
        groups = _source_groups(root)
        records: list[VideoRecord] = []
        skipped: list[str] = []
        for split, tree, label in trees:
            for path in videos_in(tree, recursive=True):
                rel = path.relative_to(tree)
                method = rel.parts[0] if len(rel.parts) > 1 else ""
                key = path.relative_to(root).with_suffix("").as_posix()
                records.append(VideoRecord(video_id=f"{dataset}/{key}", path=str(path), label=label, dataset=dataset,
                                           method=method, split=split,
                                           source_group=groups.pop(path.relative_to(root).as_posix(), "")))
            skipped += [p.relative_to(root).as_posix() for p in sorted(tree.rglob("*"))
                        if p.is_file() and p.suffix.lower() not in VIDEO_EXTS and not p.name.startswith(".")]
        warn_list(f"{root}: files that are not videos (not indexed)", skipped)
        warn_list(f"{root}/{GROUPS_FILE}: paths that are not indexed videos (ignored)", sorted(groups))
        return records


def _source_groups(root: Path) -> dict[str, str]:
    """``path under root -> source group`` from ``<root>/source_groups.csv``, or {} without one."""
    import csv

    path = root / GROUPS_FILE
    if not path.is_file():
        return {}
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise layout_error(root, f"a readable {GROUPS_FILE} ({err})") from err
    if rows and not {"path", "source_group"} <= set(rows[0]):
        raise layout_error(root, f"{GROUPS_FILE} with columns path,source_group (found {', '.join(rows[0])})")
    return {Path(r["path"]).as_posix(): r["source_group"].strip() for r in rows if r.get("path")}


def _child(root: Path, name: str) -> Path | None:
    for child in root.iterdir():
        if child.is_dir() and child.name.lower() == name:
            return child
    return None
