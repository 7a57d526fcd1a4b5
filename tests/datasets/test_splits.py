"""Splits that do not leak: identity-disjoint, segment-disjoint, deterministic, recorded in the index."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest

from fakebench.datasets.index import VideoRecord, build_index, identity_leaks, index_layout, load_index, save_index
from fakebench.datasets.splits import identity_split, parse_fractions, segment_split
from fakebench.errors import ConfigError, FakebenchError


def swap_index(people: list[str], pairs: list[tuple[str, str]], clips: int = 2):
    """Real clips of each person and fakes target<-source for each pair (no files needed to split)."""
    rows = [VideoRecord(video_id=f"real/{p}/{k}", path=f"/data/{p}_{k}.mp4", label=0, dataset="gen", target_id=p)
            for p in people for k in range(clips)]
    rows += [VideoRecord(video_id=f"fake/{t}_{s}", path=f"/data/{t}_{s}.mp4", label=1, dataset="gen", target_id=t,
                         source_id=s, original_id=f"real/{t}/0") for t, s in pairs]
    return build_index(rows, {"splits": []})


def identities(df, split):
    part = df[df["split"] == split]
    return (set(part["target_id"]) | set(part["source_id"])) - {""}


def test_no_identity_of_a_test_fake_is_seen_in_training(ffpp_root):
    df = identity_split(index_layout("ff++", ffpp_root), (0.5, 0, 0.5), seed=3)
    assert identity_leaks(df) == []
    assert not identities(df, "train") & identities(df, "test")
    assert set(df["split"]) == {"train", "test"}  # FF++ pairs split cleanly: nothing is left out
    fakes = df[df["label"] == 1]
    for row in fakes.itertuples():  # a fake and its original video stay together
        assert df.loc[df["video_id"] == row.original_id, "split"].item() == row.split
    assert df.attrs["splits"][-1] == {"by": "identity", "fractions": [0.5, 0.0, 0.5], "seed": 3, "level": "group",
                                      "left_out": 0}
    assert df.groupby("source_group")["split"].nunique().max() == 1  # a source group is never cut by the split


def test_identity_split_keeps_a_source_group_without_identities_together():
    rows = [VideoRecord(video_id=f"v{k}", path=f"/data/v{k}.mp4", label=k % 2, dataset="set", source_group=f"take{k // 4}")
            for k in range(16)]
    df = identity_split(build_index(rows), (0.5, 0, 0.5), seed=1)
    assert df.groupby("source_group")["split"].nunique().max() == 1
    assert set(df["split"]) == {"train", "test"}


def test_everyone_swapped_with_everyone_falls_back_to_identities():
    people = [f"p{i}" for i in range(8)]
    df = identity_split(swap_index(people, list(itertools.permutations(people, 2))), (0.6, 0.2, 0.2), seed=0)
    assert df.attrs["splits"][-1]["level"] == "identity"
    assert not identities(df, "train") & (identities(df, "test") | identities(df, "val"))
    left = df[df["split"] == ""]
    assert len(left) == df.attrs["splits"][-1]["left_out"] > 0 and set(left["label"]) == {1}
    for split in ("train", "val", "test"):
        assert {0, 1} <= set(df.loc[df["split"] == split, "label"])


def test_identity_split_is_deterministic_with_a_seed():
    people = [f"p{i}" for i in range(12)]
    pairs = [(people[i], people[i + 1]) for i in range(0, 12, 2)] + [(people[i + 1], people[i]) for i in range(0, 12, 2)]
    index = swap_index(people, pairs)
    one, two = identity_split(index, seed=7), identity_split(index, seed=7)
    assert one["split"].tolist() == two["split"].tolist()
    others = [identity_split(index, seed=s)["split"].tolist() for s in range(8)]
    assert len({tuple(o) for o in others}) > 1  # the seed matters
    counts = one["split"].value_counts().to_dict()
    assert counts["train"] > counts["test"] > 0 and counts.get("", 0) == 0


def test_one_pair_cannot_be_split_by_identity():
    with pytest.raises(FakebenchError, match=r"no identity-disjoint split of 6 videos with 2 identities \(a, b\).*"
                                             r"--by segment"):
        identity_split(swap_index(["a", "b"], [("a", "b"), ("b", "a")], clips=2))


def test_segment_split_cuts_each_video_in_time_with_gaps(tmp_path):
    rows = [VideoRecord(video_id="A", path="/data/A.mp4", label=0, dataset="s", target_id="a"),
            VideoRecord(video_id="fake/A", path="/data/fA.mp4", label=1, dataset="s", target_id="a", source_id="b",
                        original_id="A")]
    index = build_index(rows, {"splits": []})
    df = segment_split(index, (0.8, 0, 0.2), gap=0.04, frame_counts={"/data/A.mp4": 4800, "/data/fA.mp4": 4800})
    real = df[df["label"] == 0].set_index("split")
    assert real.loc["train", "video_id"] == "A:0-3686" and real.loc["test", "video_id"] == "A:3878-4800"
    assert real.loc["test", "start_frame"] - real.loc["train", "stop_frame"] == 192  # the gap: 4 % of 4800
    fake = df[df["label"] == 1].set_index("split")
    assert fake.loc["test", "original_id"] == "A:3878-4800"  # the fake's test part points at the original's
    assert set(df["source_group"]) == {"s:a"}  # every segment of the real and of its fake keeps the group
    assert df.attrs["splits"][-1] == {"by": "segment", "fractions": [0.8, 0.0, 0.2], "gap": 0.04, "seed": 0}
    again = segment_split(index, (0.8, 0, 0.2), gap=0.04, frame_counts={"/data/A.mp4": 4800, "/data/fA.mp4": 4800})
    pd.testing.assert_frame_equal(df, again)
    save_index(df, tmp_path / "seg.parquet")
    back = load_index(tmp_path / "seg.parquet")
    assert back.attrs["splits"][-1]["by"] == "segment" and back["stop_frame"].tolist() == df["stop_frame"].tolist()


def test_segment_split_inside_an_existing_range_and_reading_frame_counts(tmp_path):
    from tests.datasets.conftest import make_video

    video = make_video(tmp_path / "v.mp4", frames=20)
    rows = [VideoRecord(video_id="v", path=str(video), label=0, dataset="s"),
            VideoRecord(video_id="v:10-20", path=str(video), label=0, dataset="s", start_frame=10, stop_frame=20)]
    df = segment_split(build_index(rows), (0.5, 0.25, 0.25), gap=0.1)
    # 20 frames, gaps of 2: train [0, 8), val [10, 14), test [16, 20); the row [10, 20) is cut inside its range
    assert df["video_id"].tolist() == ["v:0-8", "v:10-14", "v:16-20", "v:10-20:10-14", "v:10-20:15-17", "v:10-20:18-20"]
    assert df["split"].tolist() == ["train", "val", "test"] * 2
    assert df["source_group"].tolist() == ["v"] * 3 + ["v:10-20"] * 3  # segments of a row share the row's group
    with pytest.raises(FakebenchError, match=r"video v has 2 frames: too few"):
        segment_split(build_index([VideoRecord(video_id="v", path=str(video), label=0, dataset="s", start_frame=0,
                                               stop_frame=2)]), (0.5, 0.25, 0.25), gap=0.1)


@pytest.mark.parametrize("bad", ["0.7,0.3", "0.5,0.5,0.5", "a,b,c", "0,0.5,0.5", "0.8,0.2,0"])
def test_bad_fractions(bad):
    with pytest.raises(ConfigError, match=r"fractions|--fractions"):
        parse_fractions(bad)
