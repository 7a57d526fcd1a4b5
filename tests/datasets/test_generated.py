"""The generated layout: fakebench's own fakes from their manifests, with the real segments they came from."""

from __future__ import annotations

import json
import logging
import shutil

import pandas as pd
import pytest

from fakebench.datasets.index import index_layout
from fakebench.errors import DatasetLayoutError
from tests.datasets.conftest import build_generated, make_video, write_manifest


def test_fakes_and_real_segments(tmp_path):
    fakes, video_a, video_b = build_generated(tmp_path)
    df = index_layout("generated", fakes)
    assert len(df) == 5  # 3 fakes + 2 distinct real segments (a[0:8] is used twice)
    real = df[df["label"] == 0].set_index("target_id")
    assert real.loc["a", "path"] == str(video_a) and (real.loc["a", "start_frame"], real.loc["a", "stop_frame"]) == (0, 8)
    assert real.loc["b", "video_id"].endswith(":2-10") and real.loc["b", "source_id"] == ""
    fake = df[(df["label"] == 1) & (df["step"] == 2400)].iloc[0]
    assert (fake["method"], fake["target_id"], fake["source_id"]) == ("fakebench-ae", "a", "b")
    assert fake["original_id"] == real.loc["a", "video_id"]
    assert fake["mask_path"].endswith("a_from_b_later.masks.npz")
    assert json.loads(fake["settings"])["blend"] == "alpha" and fake["frames_swapped"] == 7
    assert fake["checkpoint_sha256"] == "ab" * 32
    # source group: the input segment; both fakes of a[0:8] and the real a[0:8] share it, b's segment is another
    groups = df.groupby("source_group")["video_id"].count().to_dict()
    assert groups == {real.loc["a", "video_id"]: 3, real.loc["b", "video_id"]: 2}
    assert set(df.loc[df["target_id"] == "a", "source_group"]) == {real.loc["a", "video_id"]}


def test_ids_come_from_content_not_paths(tmp_path):
    fakes, _, _ = build_generated(tmp_path / "one")
    before = index_layout("generated", fakes)
    moved = tmp_path / "elsewhere" / "renamed"
    shutil.copytree(fakes, moved)
    after = index_layout("generated", moved)
    assert sorted(before["video_id"]) == sorted(after["video_id"])
    fake_paths = [set(d.loc[d["label"] == 1, "path"]) for d in (before, after)]
    assert not fake_paths[0] & fake_paths[1]  # the inputs are absolute in the manifests and stay where they are


def test_fakes_only_and_missing_inputs(tmp_path, caplog):
    fakes, video_a, _ = build_generated(tmp_path)
    fakes_only = index_layout("generated", fakes, include_real=False)
    assert set(fakes_only["label"]) == {1}
    assert fakes_only["source_group"].nunique() == 2  # the groups do not need the real rows
    video_a.unlink()
    with caplog.at_level(logging.WARNING, logger="fakebench.datasets"):
        df = index_layout("generated", fakes)
    assert (df["label"] == 0).sum() == 1 and (df["label"] == 1).sum() == 3
    assert "real inputs that are missing" in caplog.text and "person_a.mp4" in caplog.text


def test_changed_input_is_not_taken_as_the_real_segment(tmp_path, caplog):
    fakes, _, video_b = build_generated(tmp_path)
    make_video(video_b, frames=12, seed=99)  # other bytes at the same path
    with caplog.at_level(logging.WARNING, logger="fakebench.datasets"):
        df = index_layout("generated", fakes)
    assert set(df.loc[df["label"] == 0, "target_id"]) == {"a"}
    assert "sha256 differs from the manifest's" in caplog.text


@pytest.mark.parametrize(("change", "message"), [
    ({"schema": "fakebench.generated/9"}, r"schema 'fakebench\.generated/9'; this fakebench reads 'fakebench\.generated/1'"),
    ({"schema": None}, r"schema None; expected 'fakebench\.generated/1' for a manifest beside its video"),
    ({"label": "fake"}, r"label is 'fake'; expected int"),
    ({"input": {"path": "x.mp4", "sha256": "0", "start_frame": 5, "stop_frame": 5}}, r"input frames \[5, 5\)"),
    ({"identities": {"target": "a"}}, r"identities\.source is None; expected str or int"),
])
def test_bad_manifest_names_the_file(tmp_path, change, message):
    fakes, video_a, _ = build_generated(tmp_path)
    bad = write_manifest(fakes / "run2", "broken", video_a, "a", "b", 0, 4, **change)
    with pytest.raises(DatasetLayoutError, match=message) as err:
        index_layout("generated", fakes)
    assert str(bad) in str(err.value)


def test_folder_without_manifests(tmp_path):
    make_video(tmp_path / "clip.mp4")
    (tmp_path / "env.json").write_text("{}")
    with pytest.raises(DatasetLayoutError, match=r"expected <root>/\*\*/<name>\.json manifests .*files: clip\.mp4, env\.json"):
        index_layout("generated", tmp_path)


def test_graphics_fakes_are_indexed_under_their_method(tmp_path):
    fakes, video_a, _ = build_generated(tmp_path)
    path = write_manifest(fakes / "graphics", "a_from_b_graphics", video_a, "a", "b", 0, 8, method="graphics",
                          donor={"path": "/donors/b.mp4", "sha256": "cd" * 32, "start_frame": 0, "stop_frame": 100})
    manifest = json.loads(path.read_text())
    del manifest["run"], manifest["checkpoint"]  # a graphics fake names its donor, not a run
    path.write_text(json.dumps(manifest))
    df = index_layout("generated", fakes)
    fake = df[df["label"] == 1]
    assert sorted(fake["method"]) == ["fakebench-ae"] * 3 + ["fakebench-graphics"]  # no "method" key: autoencoder
    graphics = fake[fake["method"] == "fakebench-graphics"].iloc[0]
    assert (graphics["target_id"], graphics["source_id"], graphics["run"], graphics["checkpoint_sha256"]) == ("a", "b", "", "")
    assert pd.isna(graphics["step"])
    real = df[df["label"] == 0].set_index("target_id")
    assert len(real) == 2 and graphics["original_id"] == real.loc["a", "video_id"]  # a[0:8], indexed once
    write_manifest(fakes / "graphics", "broken", video_a, "a", "b", 0, 4, method=3)
    with pytest.raises(DatasetLayoutError, match=r"broken\.json: method is 3; expected str"):
        index_layout("generated", fakes)
