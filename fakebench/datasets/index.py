"""The video index: one table, one row per video (or per frame range of a video), saved as parquet.

Columns (``VideoRecord``):

- ``video_id``: unique across the whole index; made once by the layout (or by a split) and never
  parsed back out of a path. Segments of one file get ids like ``A:0-2400``.
- ``path``: the video file, absolute.
- ``label``: 0 real, 1 fake.
- ``split``: ``train``, ``val``, ``test`` or ``""`` (not assigned).
- ``dataset``, ``method`` (the manipulation of a fake, or the collection a real video comes from,
  e.g. ``original``), ``compression`` (``raw``/``c23``/``c40`` or ``""``).
- ``target_id``, ``source_id``: identities where known. FF++ convention, used for every layout:
  in ``000_003.mp4`` the target ``000`` is the person of the driving video, the source ``003`` the
  face pasted in. A real video has only a target (the person shown). Identities are plain strings
  shared across data sets (DeeperForensics' targets are FF++'s ``000``..``999``).
- ``start_frame``, ``stop_frame`` (nullable ints): the frame range ``[start, stop)`` of ``path``
  this row stands for; null = the whole file.
- ``original_id``: for a fake, the ``video_id`` of the real video it was made from, where known.
- ``source_group``: the unit rows move together with. Rows of one group are not independent (a
  fake and the real video it came from, segments of one file, videos of one person), so the
  benchmark's bootstrap resamples whole groups. The rule: the original (real) video a row comes
  from, else the person, else the video itself. What each layout puts there:

  - ``ff++``: ``ff++:<target>`` (fake ``000_003`` and real ``000`` share ``ff++:000``, ``001`` is
    another group); DeepFakeDetection: the actor (``ff++:01``). YouTube sources that FF++ videos
    may share are not used: the target id is the rule.
  - ``celeb-df``: ``<dataset>:<target celebrity>`` (``id0_0000`` and ``id0_id1_0000`` share
    ``celeb-df-v2:id0``); ``YouTube-real`` (no person known): the video's own ``video_id``.
  - ``dfdc``: a fake: the ``video_id`` of its ``original`` (metadata.json); a real, a fake without an
    original, a test video: its own ``video_id``. DFDC-preview: ``dfdc-preview:<target>`` where the
    entry names a person, else its own ``video_id`` (the fallback below).
  - ``deeperforensics``: ``ff++:<target>`` for a fake and its real target video: the group of the
    FF++ video both come from, so they stay together when merged with an FF++ index; a source
    video (``--include-source-videos``): ``deeperforensics:<actor>``.
  - ``folder``: the video's own ``video_id``, or the group ``<root>/source_groups.csv`` gives it
    (columns ``path`` under the root, ``source_group``): the layout knows no other link.
  - ``generated``: the real input segment a fake was converted from (``real/<input sha256, 16
    hex>:<start>-<stop>``, the ``video_id`` of that real row); the real row has the same group.
  - ``samples``: ``samples:<sample id>`` (the person; E-lq is E's); NOFACE: its own ``video_id``.
  - ``segment_split`` keeps a row's group on each of its segments (``A:0-2400`` and ``A:2600-3000``
    share ``A``'s group), unless the layout set a finer one.

  An empty group (an index written before the column existed, hand-made records) is filled on
  validation by ``source_groups``: a row whose ``original_id`` is a row of the index takes that
  row's group, another ``original_id`` is the group itself; else ``<dataset>:<target_id>``; else
  the row's own ``video_id``.
- any extra columns a layout adds (``mask_path``, ``step``, ``settings``...).

How the index was built and split is kept in the parquet file's metadata (``df.attrs`` after
``load_index``): layout, root, options, and one entry per split applied.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fakebench.errors import DatasetLayoutError, FakebenchError, MediaError

if TYPE_CHECKING:  # pandas is imported where it is used, so `fakebench --help` stays quick
    import pandas as pd

log = logging.getLogger("fakebench.datasets")

SCHEMA_VERSION = 1
SPLITS = ("train", "val", "test", "")
REQUIRED = ("video_id", "path", "label", "split", "dataset", "method", "compression", "target_id", "source_id")
OPTIONAL = ("start_frame", "stop_frame", "original_id", "source_group")
_TEXT = ("video_id", "path", "split", "dataset", "method", "compression", "target_id", "source_id", "original_id",
         "source_group")  # str columns, "" where unknown
_META_KEY = b"fakebench.index"


@dataclass(frozen=True)
class VideoRecord:
    """One row of the index (see the module docstring for what each field means)."""

    video_id: str
    path: str
    label: int  # 0 real, 1 fake
    dataset: str
    method: str = ""
    compression: str = ""
    target_id: str = ""  # the person in the driving video (a real video: the person shown)
    source_id: str = ""  # the face pasted in (fakes only)
    split: str = ""
    start_frame: int | None = None  # [start_frame, stop_frame) of path; None = whole file
    stop_frame: int | None = None
    original_id: str = ""  # video_id of the real video a fake was made from
    source_group: str = ""  # the unit rows move together with ("" = the fallback of source_groups)
    extra: Mapping[str, object] = field(default_factory=dict)

    def row(self) -> dict:
        base = {name: getattr(self, name) for name in (*REQUIRED, *OPTIONAL)}
        clash = set(self.extra) & set(base)
        if clash:
            raise ValueError(f"extra columns {sorted(clash)} clash with the index's own columns")
        return {**base, **self.extra}


def frame_range(row: Mapping) -> tuple[int, int | None]:
    """``(start, stop)`` frames of an index row (a dict); ``(0, None)`` = the whole file when it has no range."""
    start, stop = row.get("start_frame"), row.get("stop_frame")
    if start is None or (isinstance(start, float) and start != start) or str(start) == "<NA>":
        return 0, None
    return int(start), int(stop)


def build_index(records: Iterable[VideoRecord], info: Mapping | None = None) -> pd.DataFrame:
    """The index table of ``records`` (validated; ``info`` is kept as ``df.attrs``)."""
    import pandas as pd

    rows = [r.row() for r in records]
    columns = list(REQUIRED) + list(OPTIONAL)
    for row in rows:
        columns += [k for k in row if k not in columns]
    df = pd.DataFrame(rows, columns=columns)
    for name in columns[len(REQUIRED) + len(OPTIONAL):]:  # extra columns: a layout leaves gaps for other rows
        values = [v for v in df[name] if v is not None and not (isinstance(v, float) and v != v)]
        if values and all(isinstance(v, bool) for v in values):
            df[name] = df[name].astype("boolean")
        elif values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            df[name] = df[name].astype("Int64")
        elif all(isinstance(v, str) for v in values):  # also a column with no value at all (a graphics-only "step")
            df[name] = df[name].astype(object).fillna("").astype(str)
    df = validate_index(df, "the new index")
    df.attrs = {"schema_version": SCHEMA_VERSION, **dict(info or {})}
    return df


def validate_index(df: pd.DataFrame, where: str = "index") -> pd.DataFrame:
    """Check the columns and values of an index table; return it with normalised dtypes.

    Raises ``DatasetLayoutError`` naming the first problem: a missing column, a label other than
    0/1, an unknown split, an empty or repeated video_id, a bad frame range.
    """
    import pandas as pd

    hint = "rebuild it with `fakebench data index`"
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DatasetLayoutError(f"{where}: missing column(s) {', '.join(missing)}; an index needs "
                                 f"{', '.join(REQUIRED)}: {hint}")
    df = df.copy()
    for name in OPTIONAL:
        if name not in df.columns:
            df[name] = "" if name in _TEXT else None
    for name in _TEXT:
        df[name] = df[name].fillna("").astype(str)
    labels = pd.to_numeric(df["label"], errors="coerce")
    bad = ~labels.isin([0, 1])
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        value = df["label"].iloc[i]
        value = value.item() if hasattr(value, "item") else value
        raise DatasetLayoutError(f"{where}: label {value!r} for video {df['video_id'].iloc[i]!r}; "
                                 f"expected 0 (real) or 1 (fake) in every row: {hint}")
    df["label"] = labels.astype("int64")
    bad = ~df["split"].isin(SPLITS)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise DatasetLayoutError(f"{where}: split {df['split'].iloc[i]!r} for video {df['video_id'].iloc[i]!r}; "
                                 "expected train, val, test or empty")
    empty = (df["video_id"] == "") | (df["path"] == "")
    if empty.any():
        i = int(empty.to_numpy().nonzero()[0][0])
        raise DatasetLayoutError(f"{where}: row {i} has an empty video_id or path; every row needs both: {hint}")
    dup = df["video_id"].duplicated(keep=False)
    if dup.any():
        first = df.loc[dup, "video_id"].iloc[0]
        rows = df.index[df["video_id"] == first].tolist()
        raise DatasetLayoutError(f"{where}: video_id {first!r} appears {len(rows)} times (rows {rows[:5]}); video ids "
                                 "must be unique across the whole index (merging two indexes of the same files?)")
    for name in ("start_frame", "stop_frame"):
        df[name] = pd.to_numeric(df[name], errors="coerce").astype("Int64")
    start, stop = df["start_frame"], df["stop_frame"]
    bad = (start.isna() != stop.isna()) | (start < 0).fillna(False) | (stop <= start).fillna(False)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise DatasetLayoutError(f"{where}: video {df['video_id'].iloc[i]!r} has frame range "
                                 f"[{start.iloc[i]}, {stop.iloc[i]}); expected both empty or 0 <= start < stop")
    df["source_group"] = source_groups(df)
    return df.reset_index(drop=True)


def save_index(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the index as parquet (validated first; ``df.attrs`` go into the file's metadata), atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fakebench.files import atomic_path

    path = Path(path)
    if path.suffix.lower() != ".parquet":
        raise FakebenchError(f"{path}: an index is written as parquet; name the file *.parquet")
    attrs = dict(df.attrs)
    df = validate_index(df, str(path))
    table = pa.Table.from_pandas(df, preserve_index=False)
    info = {**attrs, "schema_version": SCHEMA_VERSION}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           _META_KEY: json.dumps(info, default=str).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return path


def load_index(path: str | os.PathLike) -> pd.DataFrame:
    """Read and validate an index (``.parquet`` as written by ``save_index``, or a ``.csv`` with the same columns)."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.is_file():
        raise FakebenchError(f"{path}: no such index file; build one with `fakebench data index --layout NAME "
                             "--root DIR --out index.parquet`")
    attrs: dict = {}
    if path.suffix.lower() == ".csv":
        try:
            df = pd.read_csv(path, dtype={c: str for c in _TEXT},
                             keep_default_na=False)
        except (OSError, ValueError, pd.errors.ParserError) as err:
            raise DatasetLayoutError(f"{path}: not a readable CSV index ({err})") from err
    else:
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            raise DatasetLayoutError(f"{path}: not a readable parquet index ({err}); rebuild it with "
                                     "`fakebench data index`") from err
        raw = (table.schema.metadata or {}).get(_META_KEY)
        if raw:
            attrs = json.loads(raw)
            if int(attrs.get("schema_version", 0)) > SCHEMA_VERSION:
                raise DatasetLayoutError(f"{path}: index schema {attrs['schema_version']} is newer than this "
                                         f"fakebench reads ({SCHEMA_VERSION}); upgrade fakebench")
        df = table.to_pandas()
    df = validate_index(df, str(path))
    df.attrs = attrs
    return df


def index_layout(layout: str, root: str | os.PathLike | None, **options) -> pd.DataFrame:
    """Index the data set at ``root`` read as ``layout`` (a name in ``LAYOUTS``) with its options."""
    from dataclasses import fields

    from fakebench.datasets.layouts import LAYOUTS
    from fakebench.errors import ConfigError

    cls = LAYOUTS.get(layout)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(options) - known)
    if unknown:
        takes = ", ".join(f"--{n.replace('_', '-')}" for n in sorted(known)) or "no options"
        raise ConfigError(f"layout {layout!r} does not take {', '.join('--' + u.replace('_', '-') for u in unknown)}; "
                          f"it takes: {takes}")
    reader = cls(**options)
    root_path = Path(root).expanduser().resolve() if root is not None else None
    records = reader.records(root_path)
    info = {"layout": layout, "root": str(root_path) if root_path else None,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}, "splits": []}
    df = build_index(records, info)
    if df.empty:
        raise DatasetLayoutError(f"{root_path}: the {layout} layout found no videos there")
    return df


def source_groups(df: pd.DataFrame) -> pd.Series:
    """Every row's source group (``str``, aligned with ``df``): the bootstrap's unit, clips that share it move together.

    The row's own ``source_group`` where set (the layouts set it: see the module docstring); else
    the fallback: a row whose ``original_id`` is a row of ``df`` takes that row's group (so an old
    FF++ index groups fake ``000_003`` with real ``000``), another ``original_id`` is the group
    itself; else the person, ``<dataset>:<target_id>``; else the row's own ``video_id``. Works on
    any table with ``video_id`` (the other columns may be missing).
    """
    import pandas as pd

    def text(column: str) -> list[str]:
        if column not in df.columns:
            return [""] * len(df)
        return ["" if v is None or (isinstance(v, float) and v != v) or str(v) == "<NA>" else str(v)
                for v in df[column]]

    own, original, target, dataset, video = (text(c) for c in ("source_group", "original_id", "target_id", "dataset",
                                                                 "video_id"))
    alone = [g or (f"{d}:{t}" if t else v) for g, t, d, v in zip(own, target, dataset, video)]  # without originals
    of_video = dict(zip(video, alone))
    groups = [g or (of_video.get(o, o) if o else a) for g, o, a in zip(own, original, alone)]
    return pd.Series(groups, index=df.index, dtype=object, name="source_group")


# -- summaries ------------------------------------------------------------------------------------

def counts(df: pd.DataFrame) -> dict:
    """Videos by label, by method (real/fake) and by split (real/fake), and source groups by split, as plain dicts."""
    def by(column: str) -> dict:
        out: dict[str, dict[str, int]] = {}
        for (key, label), n in df.groupby([column, "label"], sort=True).size().items():
            out.setdefault(key, {"real": 0, "fake": 0})["fake" if label else "real"] = int(n)
        return out

    return {"videos": len(df), "real": int((df["label"] == 0).sum()), "fake": int((df["label"] == 1).sum()),
            "datasets": sorted(df["dataset"].unique().tolist()), "method": by("method"), "split": by("split"),
            "source_groups": {k: int(n) for k, n in source_groups(df).groupby(df["split"]).nunique().items()}}


def format_counts(summary: dict) -> str:
    """``counts`` as a small text table (empty method/split shown as ``-``; each split with its source groups)."""
    lines = [f"videos {summary['videos']}  real {summary['real']}  fake {summary['fake']}  "
             f"({', '.join(summary['datasets'])})"]
    for column in ("method", "split"):
        table = summary[column]
        width = max([len(column), *(len(k or "-") for k in table)])
        groups = summary.get("source_groups", {}) if column == "split" else {}
        lines.append(f"{column.ljust(width)}  {'real':>6}  {'fake':>6}" + (f"  {'groups':>6}" if groups else ""))
        keys = sorted(table, key=lambda k: (SPLITS.index(k) if column == "split" and k in SPLITS else 0, k))
        for key in keys:
            lines.append(f"{(key or '-').ljust(width)}  {table[key]['real']:>6}  {table[key]['fake']:>6}"
                         + (f"  {groups.get(key, 0):>6}" if groups else ""))
    return "\n".join(lines)


# -- check ----------------------------------------------------------------------------------------

PROBLEMS = ("missing", "unreadable", "duplicate", "bad range", "leak")


def check_index(df: pd.DataFrame, *, decode: bool = True, content: bool = True, progress: bool = False) -> pd.DataFrame:
    """Problems with the files of an index, one row each: ``problem, video_id, path, detail``.

    ``missing``: no file at the path. ``unreadable``: the file does not open as a video
    (``decode``). ``bad range``: a frame range past the video's end. ``duplicate``: the same path
    listed twice for the whole file, or another path with the same bytes (``content``: sha256,
    memoised in the cache). ``leak``: an identity of a val/test fake also appears in train.
    """
    import pandas as pd
    from tqdm import tqdm

    from fakebench.files import content_key
    from fakebench.media import is_image, probe_video, read_image

    problems: list[dict] = []

    def report(problem: str, row, detail: str) -> None:
        problems.append({"problem": problem, "video_id": row.video_id, "path": row.path, "detail": detail})

    rows_by_path: dict[str, list] = {}
    for row in df.itertuples(index=False):
        rows_by_path.setdefault(row.path, []).append(row)
    first_owner: dict[str, object] = {}
    for path, rows in tqdm(rows_by_path.items(), desc="check", unit="file", disable=not progress):
        whole = [r for r in rows if pd.isna(r.start_frame)]
        for extra in whole[1:]:
            report("duplicate", extra, f"the whole file is listed again (also {whole[0].video_id})")
        if not os.path.isfile(path):
            for row in rows:
                report("missing", row, "no such file")
            continue
        if decode:
            try:
                if is_image(path):
                    read_image(path)
                    n_frames = 1
                else:
                    n_frames = probe_video(path).n_frames
            except MediaError as err:
                for row in rows:
                    report("unreadable", row, str(err))
                continue
            for row in rows:
                if not pd.isna(row.stop_frame) and n_frames and row.stop_frame > n_frames:
                    report("bad range", row, f"frames [{row.start_frame}, {row.stop_frame}) but the video has "
                                             f"{n_frames} frames")
        if content:
            try:
                key = content_key(path)
            except OSError as err:
                for row in rows:
                    report("unreadable", row, f"cannot be read ({err})")
                continue
            if key in first_owner:
                owner = first_owner[key]
                for row in rows:
                    report("duplicate", row, f"same bytes as {owner.video_id} ({owner.path})")
            else:
                first_owner[key] = rows[0]
    for row_index in identity_leaks(df):
        row = df.iloc[row_index]
        shared = ", ".join(sorted(_identities(row) & _train_identities(df)))
        report("leak", row, f"{row['split']} fake shares identity {shared} with train rows")
    return pd.DataFrame(problems, columns=["problem", "video_id", "path", "detail"])


def _identities(row) -> set[str]:
    return {x for x in (row["target_id"], row["source_id"]) if x}


def _train_identities(df: pd.DataFrame) -> set[str]:
    train = df[df["split"] == "train"]
    return (set(train["target_id"]) | set(train["source_id"])) - {""}


def identity_leaks(df: pd.DataFrame) -> list[int]:
    """Positions of val/test fakes whose source or target identity also appears in a train row."""
    train_ids = _train_identities(df)
    out = []
    for i, row in enumerate(df.itertuples(index=False)):
        if row.label == 1 and row.split in ("val", "test") and ({row.target_id, row.source_id} - {""}) & train_ids:
            out.append(i)
    return out
