"""The index table: build, save/load round trip, validation on load, counts, and the file check."""

from __future__ import annotations

import logging
import shutil

import pandas as pd
import pytest

from fakebench.datasets.index import (
    REQUIRED,
    VideoRecord,
    build_index,
    check_index,
    counts,
    format_counts,
    index_layout,
    load_index,
    save_index,
    source_groups,
)
from fakebench.errors import DatasetLayoutError, FakebenchError
from tests.datasets.conftest import build_ffpp, build_folder, make_video


def records(tmp_path):
    a = make_video(tmp_path / "a.mp4", frames=6)
    b = make_video(tmp_path / "b.mp4", frames=6)
    return [VideoRecord(video_id="x/a", path=str(a), label=0, dataset="x", method="original", target_id="p"),
            VideoRecord(video_id="x/b", path=str(b), label=1, dataset="x", method="m", target_id="p", source_id="q",
                        split="test", original_id="x/a", extra={"step": 10, "mask_path": "m.npz"}),
            VideoRecord(video_id="x/a:0-3", path=str(a), label=0, dataset="x", start_frame=0, stop_frame=3)]


def test_save_load_round_trip_keeps_columns_dtypes_and_info(tmp_path):
    df = build_index(records(tmp_path), {"layout": "test", "splits": []})
    path = save_index(df, tmp_path / "index.parquet")
    back = load_index(path)
    pd.testing.assert_frame_equal(back, df)
    assert back.attrs["layout"] == "test" and back.attrs["schema_version"] == 1
    assert str(back["start_frame"].dtype) == "Int64" and pd.isna(back.loc[0, "start_frame"])
    assert list(back.columns[:len(REQUIRED)]) == list(REQUIRED)
    assert back.loc[1, "step"] == 10 and back.loc[0, "mask_path"] in ("", None)


def test_source_group_fallback_for_rows_without_one(tmp_path):
    df = build_index(records(tmp_path))
    # the fake joins the group of its original (which is the person p); a row without identity is its own group
    assert df["source_group"].tolist() == ["x:p", "x:p", "x/a:0-3"]
    chosen = [VideoRecord(video_id="x/c", path="/c", label=0, dataset="x", target_id="p", source_group="take-1"),
              VideoRecord(video_id="x/d", path="/d", label=1, dataset="x", target_id="p", original_id="x/c"),
              VideoRecord(video_id="x/e", path="/e", label=1, dataset="x", target_id="q", original_id="y/gone")]
    # a layout's own group is kept (and a fake follows its original's); an original not in the index is the group
    assert build_index(chosen)["source_group"].tolist() == ["take-1", "take-1", "y/gone"]


def test_old_index_without_source_group_loads_with_the_groups_a_rebuilt_one_has(tmp_path, caplog):
    new = index_layout("ff++", build_ffpp(tmp_path / "ff"))
    path = tmp_path / "old.parquet"
    new.drop(columns=["source_group"]).to_parquet(path, index=False)  # written before the column existed
    with caplog.at_level(logging.INFO, logger="fakebench.datasets"):
        old = load_index(path)
    assert old["source_group"].tolist() == new["source_group"].tolist()
    assert old.set_index("video_id").loc["ff++/Deepfakes/c23/000_001", "source_group"] == "ff++:000"
    assert caplog.text == ""
    csv = tmp_path / "old.csv"
    new.drop(columns=["source_group"]).to_csv(csv, index=False)
    assert load_index(csv)["source_group"].tolist() == new["source_group"].tolist()
    assert source_groups(new.drop(columns=["source_group"])).tolist() == new["source_group"].tolist()


def test_csv_index_is_accepted(tmp_path):
    df = build_index(records(tmp_path))
    df.to_csv(tmp_path / "index.csv", index=False)
    back = load_index(tmp_path / "index.csv")
    assert back["video_id"].tolist() == df["video_id"].tolist() and back["label"].tolist() == [0, 1, 0]


@pytest.mark.parametrize(("edit", "message"), [
    (lambda d: d.drop(columns=["label", "split"]), r"missing column\(s\) label, split; an index needs video_id, path"),
    (lambda d: d.assign(label=[0, 2, 0]), r"label 2 for video 'x/b'; expected 0 \(real\) or 1 \(fake\)"),
    (lambda d: d.assign(video_id=["x/a", "x/a", "x/c"]), r"video_id 'x/a' appears 2 times \(rows \[0, 1\]\)"),
    (lambda d: d.assign(split=["train", "testing", ""]), r"split 'testing' for video 'x/b'; expected train, val, test"),
    (lambda d: d.assign(stop_frame=[None, None, 0]), r"frame range \[0, 0\); expected both empty or 0 <= start < stop"),
])
def test_bad_index_is_refused_on_load(tmp_path, edit, message):
    df = build_index(records(tmp_path))
    path = tmp_path / "bad.parquet"
    edit(df).to_parquet(path, index=False)
    with pytest.raises(DatasetLayoutError, match=message):
        load_index(path)


def test_load_errors(tmp_path):
    with pytest.raises(FakebenchError, match=r"no such index file; build one with `fakebench data index"):
        load_index(tmp_path / "none.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetLayoutError, match="not a readable parquet index"):
        load_index(tmp_path / "junk.parquet")
    with pytest.raises(FakebenchError, match=r"name the file \*\.parquet"):
        save_index(build_index(records(tmp_path)), tmp_path / "index.csv")


def test_counts(tmp_path):
    summary = counts(build_index(records(tmp_path)))
    assert summary["videos"] == 3 and (summary["real"], summary["fake"]) == (2, 1)
    assert summary["method"] == {"": {"real": 1, "fake": 0}, "m": {"real": 0, "fake": 1},
                                 "original": {"real": 1, "fake": 0}}
    assert summary["split"] == {"": {"real": 2, "fake": 0}, "test": {"real": 0, "fake": 1}}
    assert summary["source_groups"] == {"": 2, "test": 1}  # x:p and the segment x/a:0-3; the test fake is x:p's
    text = format_counts(summary)
    assert text.splitlines()[0] == "videos 3  real 2  fake 1  (x)"
    assert "split    real    fake  groups" in text and "test        0       1       1" in text


def test_check_reports_missing_unreadable_duplicates_and_leaks(tmp_path):
    root = build_folder(tmp_path / "set")
    df = index_layout("folder", root)
    shutil.copy(root / "real" / "a.mp4", root / "fake" / "copy_of_a.mp4")
    (root / "fake" / "broken.mp4").write_bytes(b"\x00" * 100)
    (root / "real" / "studio" / "b.mp4").unlink()
    base = df[df["video_id"] == "set/real/a"].iloc[0].to_dict()
    df = pd.concat([df, pd.DataFrame([
        {**base, "video_id": "set/fake/copy_of_a", "path": str(root / "fake" / "copy_of_a.mp4"), "label": 1},
        {**base, "video_id": "set/fake/broken", "path": str(root / "fake" / "broken.mp4"), "label": 1},
        {**base, "video_id": "set/real/a-again"},
        {**base, "video_id": "set/real/a:0-99", "start_frame": 0, "stop_frame": 99},
    ])], ignore_index=True)
    df.loc[df["video_id"] == "set/fake/d", ["split", "target_id"]] = ["test", "p1"]
    df.loc[df["video_id"] == "set/real/a", ["split", "target_id"]] = ["train", "p1"]
    problems = check_index(df)
    found = {(p.problem, p.video_id) for p in problems.itertuples()}
    assert found == {("missing", "set/real/studio/b"), ("unreadable", "set/fake/broken"),
                     ("duplicate", "set/fake/copy_of_a"), ("duplicate", "set/real/a-again"),
                     ("bad range", "set/real/a:0-99"), ("leak", "set/fake/d")}
    detail = problems.set_index("video_id")["detail"]
    assert detail["set/fake/copy_of_a"].startswith("same bytes as set/real/a")
    assert "cannot be decoded as a video" in detail["set/fake/broken"]
    assert "shares identity p1 with train" in detail["set/fake/d"]
    assert set(check_index(df, decode=False, content=False)["problem"]) == {"missing", "duplicate", "leak"}
