"""`fakebench data ...`: help everywhere, results on stdout, one-line errors with exit status 2."""

from __future__ import annotations

import json
import shutil

import pytest

from fakebench.cli import main
from fakebench.datasets.index import load_index
from tests.conftest import sample
from tests.datasets.conftest import build_folder, build_generated


@pytest.mark.parametrize("argv", [["data"], ["data", "index"], ["data", "show"], ["data", "check"], ["data", "split"],
                                  ["data", "extract"]])
def test_every_action_has_help(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "usage: fakebench data" in out
    if argv == ["data", "index"]:
        assert "one of: celeb-df, deeperforensics, dfdc, ff++, folder, generated, samples" in " ".join(out.split())


def test_index_prints_counts_and_writes_parquet(ffpp_root, tmp_path, capsys):
    out = tmp_path / "ff.parquet"
    assert main(["data", "index", "--layout", "ff++", "--root", str(ffpp_root), "--out", str(out), "-q"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0] == "videos 16  real 6  fake 10  (ff++)"
    assert "Deepfakes               0       4" in text and "test        2       4" in text
    df = load_index(out)
    assert len(df) == 16 and df.attrs["layout"] == "ff++" and df.attrs["options"] == {}
    assert main(["data", "index", "--layout", "ff++", "--root", str(ffpp_root), "--out", str(out), "--methods",
                 "FaceSwap,Deepfakes", "--compression", "c23", "--json", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["fake"] == 8 and summary["info"]["options"] == {"compression": "c23",
                                                                   "methods": ["FaceSwap", "Deepfakes"]}
    assert main(["data", "show", str(out)]) == 0
    assert "layout ff++" in capsys.readouterr().out


def test_broken_layout_is_one_line_and_status_2(tmp_path, capsys):
    (tmp_path / "foo").mkdir()
    assert main(["data", "index", "--layout", "celeb-df", "--root", str(tmp_path), "--out", str(tmp_path / "i.parquet")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("fakebench: error: ") and "expected <root>/Celeb-real/id0_0000.mp4" in err and "foo" in err
    assert main(["data", "index", "--layout", "folder", "--root", str(tmp_path), "--out", str(tmp_path / "i.parquet"),
                 "--compression", "c23"]) == 2
    assert "layout 'folder' does not take --compression; it takes: --name" in capsys.readouterr().err
    assert main(["data", "index", "--layout", "ff++", "--out", str(tmp_path / "i.parquet")]) == 2
    assert "the ff++ layout needs --root" in capsys.readouterr().err


def test_check_exit_status_and_problems(tmp_path, capsys):
    root = build_folder(tmp_path / "set")
    index = tmp_path / "set.parquet"
    assert main(["data", "index", "--layout", "folder", "--root", str(root), "--out", str(index), "-q"]) == 0
    assert main(["data", "check", str(index), "-q"]) == 0
    assert capsys.readouterr().out.strip().endswith("4 videos, 0 problems")
    shutil.copy(root / "real" / "a.mp4", root / "fake" / "d.mp4")
    (root / "real" / "studio" / "b.mp4").unlink()
    assert main(["data", "check", str(index), "-q", "--out", str(tmp_path / "problems.csv")]) == 1
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "4 videos, 2 problems (missing 1, duplicate 1)"
    assert any(line.startswith("missing\tset/real/studio/b\t") for line in lines)
    assert (tmp_path / "problems.csv").read_text().count("\n") == 3


def test_split_by_identity_and_segment(tmp_path, capsys):
    fakes, _, _ = build_generated(tmp_path)
    index = tmp_path / "gen.parquet"
    assert main(["data", "index", "--layout", "generated", "--root", str(fakes), "--out", str(index), "-q"]) == 0
    capsys.readouterr()
    assert main(["data", "split", str(index), "--by", "identity"]) == 2  # one pair of people: says what to do
    assert "--by segment" in capsys.readouterr().err
    out = tmp_path / "seg.parquet"
    assert main(["data", "split", str(index), "--by", "segment", "--fractions", "0.75,0,0.25", "--gap", "0",
                 "--out", str(out), "-q", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["split"] == {"train": {"real": 2, "fake": 3}, "test": {"real": 2, "fake": 3}}
    df = load_index(out)
    assert df.attrs["splits"] == [{"by": "segment", "fractions": [0.75, 0.0, 0.25], "gap": 0.0, "seed": 0}]
    real = df[(df["label"] == 0) & (df["target_id"] == "b")]
    assert real[["start_frame", "stop_frame"]].values.tolist() == [[2, 8], [8, 10]]


def test_extract_command_on_a_bad_index(tmp_path, capsys):
    (tmp_path / "index.parquet").write_text("nope")
    assert main(["data", "extract", str(tmp_path / "index.parquet"), "--out", str(tmp_path / "o")]) == 2
    assert "not a readable parquet index" in capsys.readouterr().err
    assert main(["data", "extract", str(tmp_path / "none.parquet"), "--out", str(tmp_path / "o")]) == 2


@pytest.mark.media
@pytest.mark.slow
def test_extract_command_on_the_samples(tmp_path, capsys):
    sample("E")
    index = tmp_path / "samples.parquet"
    assert main(["data", "index", "--layout", "samples", "--out", str(index), "-q"]) == 0
    capsys.readouterr()
    df = load_index(index)
    df[df["video_id"] == "samples/E"].to_parquet(tmp_path / "e.parquet", index=False)
    assert main(["data", "extract", str(tmp_path / "e.parquet"), "--out", str(tmp_path / "faces"), "--frames", "4",
                 "--size", "64", "-q", "--no-cache"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "ok\tsamples/E\t4/4 frames with a face"
    assert out[-1].startswith("ok 1, no face 0, unreadable 0; table: ")
