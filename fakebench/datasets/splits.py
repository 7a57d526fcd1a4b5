"""Train/val/test splits that do not leak: by identity, or by time inside each video.

``identity_split``: no identity of a val/test fake (source or target) appears in train. Rows are
linked through the identities they show (a fake links its target and source; a row with no
known identity stands for its ``source_group``: with its original, or alone); linked groups go to one
split each, greedily balanced towards the fractions, in an order drawn from ``seed``. When the
links tie everything into too few groups (a generated set where everyone was swapped with
everyone), identities are assigned one by one instead and a fake whose two identities fall in
different splits is left out (split ``""``), counted in the log and in the index metadata.

``segment_split``: each video is cut in time, first part train, then val, last part test, with
``gap`` of the frames left out between parts so neighbouring frames never straddle the cut. The
rows become frame ranges (``start_frame``/``stop_frame``) with ids like ``A:0-2400``; each keeps
its row's ``source_group`` (the segments of one file are not independent: the bootstrap resamples
them together). Use it when only one pair of people exists. Deterministic by construction (the
seed is recorded, unused).

Both return a new index and append what they did to ``df.attrs["splits"]`` (saved in the file).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from fakebench.errors import ConfigError, FakebenchError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("fakebench.datasets")

NAMES = ("train", "val", "test")


def parse_fractions(fractions: Sequence[float] | str) -> tuple[float, float, float]:
    """``"0.7,0.15,0.15"`` or a sequence -> (train, val, test), checked to be >= 0 and sum to 1."""
    if isinstance(fractions, str):
        try:
            fractions = [float(x) for x in fractions.split(",")]
        except ValueError as err:
            raise ConfigError(f"--fractions {fractions!r}: expected three numbers like 0.7,0.15,0.15") from err
    values = tuple(float(x) for x in fractions)
    if len(values) != 3 or min(values) < 0 or abs(sum(values) - 1) > 1e-6 or values[0] == 0 or values[2] == 0:
        raise ConfigError(f"fractions {values}: expected train,val,test >= 0 summing to 1, with train and test > 0 "
                          "(e.g. 0.7,0.15,0.15 or 0.8,0,0.2)")
    return values  # type: ignore[return-value]


class _Groups:
    """Union-find over string keys."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        self.parent.setdefault(key, key)
        while self.parent[key] != key:
            self.parent[key] = self.parent[self.parent[key]]
            key = self.parent[key]
        return key

    def union(self, keys: list[str]) -> None:
        roots = [self.find(k) for k in keys]
        for r in roots[1:]:
            self.parent[r] = roots[0]


def _keys(row) -> list[str]:
    ids = [f"id:{x}" for x in (row.target_id, row.source_id) if x]
    return ids or [f"video:{getattr(row, 'source_group', '') or row.original_id or row.video_id}"]


def _assign(weights: dict[str, int], fractions: tuple[float, float, float], rng: np.random.Generator) -> dict[str, str]:
    """Each unit to a split: heaviest first (random order among equals), to the split furthest below its share."""
    units = sorted(weights)
    order = rng.permutation(len(units))
    units = sorted((units[i] for i in order), key=lambda u: -weights[u])
    total = sum(weights.values())
    filled = dict.fromkeys(NAMES, 0)
    out = {}
    for unit in units:
        open_splits = [s for s, f in zip(NAMES, fractions) if f > 0]
        # deficit: how far the split is below its share once this unit is counted elsewhere
        split = max(open_splits, key=lambda s: fractions[NAMES.index(s)] * total - filled[s])
        out[unit] = split
        filled[split] += weights[unit]
    return out


def _assign_people(people: list[str], fractions: tuple[float, float, float], rng: np.random.Generator) -> dict[str, str]:
    """Identities to splits by count: at least two per split in use (a fake needs two people), train the rest."""
    order = [people[i] for i in rng.permutation(len(people))]
    sizes = {s: max(2, round(f * len(people))) for s, f in zip(NAMES, fractions) if f > 0 and s != "train"}
    sizes["train"] = len(people) - sum(sizes.values())
    out, cursor = {}, 0
    for split in ("val", "test", "train"):
        for person in order[cursor:cursor + max(sizes.get(split, 0), 0)]:
            out[person] = split
        cursor += max(sizes.get(split, 0), 0)
    return out


def identity_split(df: pd.DataFrame, fractions: Sequence[float] | str = (0.7, 0.15, 0.15), seed: int = 0) -> pd.DataFrame:
    """Reassign every row's split so that no identity of a val/test fake appears in train (see module doc)."""
    fractions = parse_fractions(fractions)
    rng = np.random.default_rng(seed)
    rows = list(df.itertuples(index=False))
    groups = _Groups()
    for row in rows:
        groups.union(_keys(row))
    weight: dict[str, int] = {}
    for row in rows:
        root = groups.find(_keys(row)[0])
        weight[root] = weight.get(root, 0) + 1
    level = "group"
    split_of_group = _assign(weight, fractions, rng)
    splits = [split_of_group[groups.find(_keys(r)[0])] for r in rows]
    if not _usable(rows, splits, fractions):
        level = "identity"
        units = sorted({k for row in rows for k in _keys(row)})
        people = [u for u in units if u.startswith("id:")]
        alone = {u: sum(1 for r in rows if _keys(r) == [u]) for u in units if not u.startswith("id:")}
        rng = np.random.default_rng(seed)
        split_of_unit = {**_assign_people(people, fractions, rng), **_assign(alone, fractions, rng)}
        splits = []
        for row in rows:
            chosen = {split_of_unit.get(k, "") for k in _keys(row)}
            splits.append(chosen.pop() if len(chosen) == 1 else "")
        if not _usable(rows, splits, fractions):
            ids = sorted({k[3:] for r in rows for k in _keys(r) if k.startswith("id:")})
            raise FakebenchError(
                f"no identity-disjoint split of {len(rows)} videos with {len(ids)} identities ({', '.join(ids[:6])}"
                f"{'...' if len(ids) > 6 else ''}) gives train and test both real and fake videos; with one pair of "
                "people use `fakebench data split --by segment` (first part train, last part test)")
    out = df.copy()
    out["split"] = splits
    left_out = sum(1 for s in splits if s == "")
    if left_out:
        log.warning("%d fakes pair identities of different splits and are left out (split '')", left_out)
    _record(out, df, {"by": "identity", "fractions": list(fractions), "seed": seed, "level": level,
                      "left_out": left_out})
    return out


def _usable(rows, splits: list[str], fractions) -> bool:
    """Train and test (and val when asked for) each hold at least one row, and test holds a fake."""
    have = {s: {r.label for r, sp in zip(rows, splits) if sp == s} for s in NAMES}
    needed = [s for s, f in zip(NAMES, fractions) if f > 0]
    labels_everywhere = {0, 1} <= {r.label for r in rows}
    return all(have[s] for s in needed) and (1 in have["test"] or not labels_everywhere)


def segment_split(df: pd.DataFrame, fractions: Sequence[float] | str = (0.7, 0.15, 0.15), gap: float = 0.05,
                  seed: int = 0, frame_counts: dict[str, int] | None = None) -> pd.DataFrame:
    """Cut every row's frames into train | gap | val | gap | test (see module doc).

    ``gap``: fraction of the row's frames left out at each cut. Frame counts come from the row's
    own range, else ``frame_counts[path]``, else the video's header (``probe_video``).
    """
    import pandas as pd

    from fakebench.datasets.index import source_groups, validate_index
    from fakebench.media import probe_video

    fractions = parse_fractions(fractions)
    if not 0 <= gap < 0.5:
        raise ConfigError(f"--gap {gap}: expected a fraction of the frames in [0, 0.5)")
    frame_counts = dict(frame_counts or {})
    parts = [(s, f) for s, f in zip(NAMES, fractions) if f > 0]
    new_rows: list[dict] = []
    new_id: dict[tuple[str, str], str] = {}
    whole = df.assign(source_group=source_groups(df))  # decided on whole rows: every segment keeps its row's group
    for row in whole.to_dict("records"):
        if pd.isna(row["start_frame"]):
            n = frame_counts.get(row["path"])
            if n is None:
                n = frame_counts[row["path"]] = probe_video(row["path"]).n_frames
            start, stop = 0, int(n)
        else:
            start, stop = int(row["start_frame"]), int(row["stop_frame"])
        n = stop - start
        gap_frames = int(round(gap * n))
        usable = n - gap_frames * (len(parts) - 1)
        if usable < len(parts):
            raise FakebenchError(f"video {row['video_id']} has {n} frames: too few to cut into {len(parts)} parts with "
                                 f"gaps of {gap_frames}; drop it or lower --gap")
        edges = np.floor(np.cumsum([0, *(f for _, f in parts)]) / sum(f for _, f in parts) * usable).astype(int)
        cursor = start
        for k, (split, _) in enumerate(parts):
            length = int(edges[k + 1] - edges[k])
            a, b = cursor, cursor + length
            cursor = b + gap_frames
            vid = f"{row['video_id']}:{a}-{b}"
            new_id[(row["video_id"], split)] = vid
            new_rows.append({**row, "video_id": vid, "start_frame": a, "stop_frame": b, "split": split})
    for row in new_rows:  # a fake's original now means the part of the original in the same split
        if row["original_id"]:
            row["original_id"] = new_id.get((row["original_id"], row["split"]), row["original_id"])
    out = validate_index(pd.DataFrame(new_rows, columns=whole.columns), "the segment split")
    _record(out, df, {"by": "segment", "fractions": list(fractions), "gap": gap, "seed": seed})
    return out


def _record(out: pd.DataFrame, source: pd.DataFrame, entry: dict) -> None:
    attrs = dict(source.attrs)
    attrs["splits"] = [*attrs.get("splits", []), entry]
    out.attrs = attrs
