"""Every layout's rows get the source group the bootstrap resamples: a fake shares it with its original."""

from __future__ import annotations

import pandas as pd
import pytest

from fakebench.datasets import index_layout
from fakebench.datasets.index import source_groups
from fakebench.errors import DatasetLayoutError
from tests.datasets.conftest import build_dfdc, build_ffpp, build_folder


def _groups(df: pd.DataFrame) -> dict[str, str]:
    return dict(zip(df["video_id"], source_groups(df)))


def test_ffpp_fakes_share_the_group_of_their_target_video(tmp_path):
    df = index_layout("ff++", build_ffpp(tmp_path / "ff"))
    groups = dict(zip(zip(df["method"], df["target_id"], df["label"]), source_groups(df)))
    real = next(g for (m, t, y), g in groups.items() if t == "000" and y == 0)
    fake = next(g for (m, t, y), g in groups.items() if t == "000" and y == 1)
    other = next(g for (m, t, y), g in groups.items() if t == "001" and y == 0)
    assert real == fake != other


def test_dfdc_fakes_share_the_group_of_their_original(tmp_path):
    df = index_layout("dfdc", build_dfdc(tmp_path / "dfdc"))
    by_file = {vid.rsplit("/", 1)[-1]: g for vid, g in _groups(df).items()}
    assert by_file["aaqaifqrwn"] == by_file["abarnvbtwb"] == by_file["vpmyeepbep"] != by_file["ccfoszqabv"]


def test_folder_reads_source_groups_csv_and_falls_back_to_the_video(tmp_path, caplog):
    root = build_folder(tmp_path / "set")
    (root / "source_groups.csv").write_text("path,source_group\nreal/a.mp4,take1\nfake/d.mp4,take1\nreal/gone.mp4,x\n")
    df = index_layout("folder", root)
    groups = {vid.split("/", 1)[1]: g for vid, g in _groups(df).items()}
    assert groups["real/a"] == groups["fake/d"] == "take1"
    assert len({groups["real/studio/b"], groups["fake/faceswap/c"], "take1"}) == 3  # unlisted: each its own
    assert "real/gone.mp4" in caplog.text
    (root / "source_groups.csv").write_text("file,group\na,b\n")
    with pytest.raises(DatasetLayoutError, match="path,source_group"):
        index_layout("folder", root)


def test_an_index_without_the_column_gets_the_fallback():
    old = pd.DataFrame({"video_id": ["x/r", "x/f", "x/p1", "x/p2"], "dataset": "x", "target_id": ["", "", "p", "p"],
                        "original_id": ["", "x/r", "", ""]})
    groups = source_groups(old).tolist()
    assert groups[0] == groups[1] and groups[2] == groups[3] and groups[0] != groups[2]
