"""The `fakebench` command: help everywhere, one line per error, results on stdout."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from fakebench.cli import main
from tests.conftest import sample


@pytest.mark.parametrize("argv", [[], ["samples"], ["samples", "fetch"], ["samples", "list"], ["faces"],
                                  ["faces", "extract"], ["demo"]])
def test_every_level_has_help(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    assert "usage: fakebench" in capsys.readouterr().out


def test_installed_command_answers_without_loading_torch():
    out = subprocess.run([sys.executable, "-c", "import sys; from fakebench.cli import main; "
                          "sys.argv=['fakebench','--version']; "
                          "import contextlib, io\n"
                          "try: main()\nexcept SystemExit: pass\n"
                          "print('torch' in sys.modules)"], capture_output=True, text=True)
    assert out.stdout.strip().endswith("False"), out.stdout + out.stderr


def test_samples_list_json(capsys):
    assert main(["samples", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in rows][:6] == ["A", "B", "C", "D", "E", "E-lq"]
    assert {"id", "person", "file", "frames", "fps", "size", "cached"} <= set(rows[0])


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_bad_inputs_each_get_one_line_and_leave_nothing(tmp_path, capsys):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video")
    (tmp_path / "folder.mp4").mkdir()
    inputs = [tmp_path / "missing.mp4", tmp_path / "folder.mp4", tmp_path / "empty.mp4", tmp_path / "notes.mp4"]
    out_dir = tmp_path / "out"
    code, out, err = run(["faces", "extract", *map(str, inputs), "--out", str(out_dir), "-q"], capsys)
    assert code == 2 and out == ""
    errors = [line for line in err.splitlines() if line.startswith("fakebench: error:")]
    assert len(errors) == 4
    for line, path in zip(errors, inputs):
        assert str(path) in line
    assert "no such video" in errors[0] and "is a folder" in errors[1]
    assert "empty (0 bytes)" in errors[2] and "cannot be decoded as a video" in errors[3]
    assert not out_dir.exists() or not any(out_dir.iterdir())


def test_option_errors_are_one_line(capsys, tmp_path):
    code, _, err = run(["faces", "extract", "x.mp4", "--out", str(tmp_path), "--size", "0"], capsys)
    assert code == 2 and err.strip() == "fakebench: error: --size must be a positive integer, got 0"


def test_debug_shows_the_traceback(tmp_path):
    from fakebench.errors import MediaError

    with pytest.raises(MediaError):
        main(["faces", "extract", str(tmp_path / "missing.mp4"), "--out", str(tmp_path), "--debug"])


@pytest.mark.media
def test_extract_a_real_clip_and_a_faceless_one(tmp_path, capsys):
    clip, noface = sample("D")[0], sample("NOFACE")[0]
    code, out, err = run(["faces", "extract", str(clip), str(noface), "--out", str(tmp_path), "--frames", "6",
                          "--size", "64", "--device", "cpu", "-q"], capsys)
    assert code == 2
    assert out.count("\n") == 1 and "6/6 frames with a face" in out
    assert re.search(r"no_face.mp4: no face found in any of the \d+ sampled frames; expected a visible face", err)
    folder = tmp_path / "single_face"
    assert len(list((folder / "crops").glob("*.png"))) == 6
    assert (folder / "frames.csv").read_text().splitlines()[0] == "frame,has_face,n_faces,x1,y1,x2,y2,score"
    assert not (tmp_path / "no_face").exists()
    code, out, _ = run(["faces", "extract", str(clip), "--out", str(tmp_path), "--frames", "6", "--size", "64",
                        "--json", "-q"], capsys)
    assert code == 0 and json.loads(out)["with_face"] == 6
