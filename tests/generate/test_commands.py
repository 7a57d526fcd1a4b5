"""``fakebench generate``: help on every action, errors as one line."""

from __future__ import annotations

import pytest

from fakebench.cli import main


@pytest.mark.parametrize("argv", [["generate"], ["generate", "train"], ["generate", "convert"], ["generate", "evaluate"],
                                  ["generate", "preview"]])
def test_every_action_has_help(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fakebench generate")
    if argv[-1] != "generate":
        assert "--device" in out and "--seed" in out


def test_train_without_inputs_says_what_to_give(tmp_path, capsys):
    assert main(["generate", "train", "--out", str(tmp_path / "run"), "-q"]) == 2
    assert "no inputs: give the faces of each identity, e.g. --a a.mp4 --b" in capsys.readouterr().err
    assert main(["generate", "train", "--a", "x.mp4", "--out", str(tmp_path / "run"), "-q"]) == 2
    assert "a swap needs at least two identities" in capsys.readouterr().err
    assert main(["generate", "train", "--a", "x.mp4", "--identity", "carol", "--out", str(tmp_path / "run"), "-q"]) == 2
    assert "expected NAME=PATH" in capsys.readouterr().err


def test_train_with_a_missing_file_is_one_line(tmp_path, capsys):
    code = main(["generate", "train", "--a", str(tmp_path / "nope.mp4"), "--b", str(tmp_path / "nope2.mp4"),
                 "--out", str(tmp_path / "run"), "--steps", "1", "-q", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "nope.mp4: no such file or folder (identity 'a')" in err[0]


def test_convert_without_a_run_is_one_line(tmp_path, capsys):
    code = main(["generate", "convert", "--run", str(tmp_path / "norun"), "--video", "v.mp4", "--to", "b",
                 "--out", str(tmp_path / "f.mp4"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "no such run folder" in err[0]
