"""What fakebench may replace, one writer per folder, and writes that a kill or a full disk cannot half-do."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fakebench import outputs
from fakebench.cli import main
from fakebench.errors import OutputError
from fakebench.files import append_line, atomic_path, complete_lines, write_json
from fakebench.media import write_image


def _thesis(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.tex").write_text("\\documentclass{article} years of work")
    return folder / "thesis.tex"


# -- folders ---------------------------------------------------------------------------------------------
def test_a_new_or_empty_folder_is_marked_and_a_marked_one_accepted(tmp_path):
    new = outputs.claim(tmp_path / "a" / "b", "a test")
    assert json.loads((new / outputs.MARKER).read_text())["what"] == "a test"
    (tmp_path / "empty").mkdir()
    assert outputs.marked(outputs.claim(tmp_path / "empty"))
    (new / "result.txt").write_text("ours")
    assert outputs.claim(new) == new  # not empty, but ours


def test_a_folder_of_someone_else_is_refused_in_one_line_and_left_alone(tmp_path):
    thesis = _thesis(tmp_path / "results")
    with pytest.raises(OutputError, match=r"results is not empty and fakebench did not write it \(it holds "
                                          r"thesis.tex\).*choose another --out") as err:
        outputs.claim(tmp_path / "results")
    assert "\n" not in str(err.value)
    with pytest.raises(OutputError, match="did not write it"):
        outputs.clear(tmp_path / "results")
    assert thesis.read_text().endswith("years of work") and not outputs.marked(tmp_path / "results")
    (tmp_path / "plain").write_text("a file")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        outputs.claim(tmp_path / "plain")


def test_an_output_of_an_earlier_fakebench_without_the_marker_is_recognised(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "env.json").write_text(json.dumps({"fakebench": "0.1.0", "packages": {}, "commit": None}))
    (run / "log.csv").write_text("step\n1\n")
    assert outputs.marked(outputs.claim(run))
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "demo.json").write_text(json.dumps({"preset": "cpu", "seed": 0, "stages": {}}))
    assert outputs.marked(outputs.claim(demo))
    extraction = tmp_path / "faces"
    extraction.mkdir()
    (extraction / "extract.json").write_text(json.dumps({"settings": {"size": 128}}))
    (extraction / "status.jsonl").write_text("")
    assert outputs.marked(outputs.claim(extraction))
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "env.json").write_text(json.dumps({"name": "my own env"}))  # an env.json that is not fakebench's
    with pytest.raises(OutputError):
        outputs.claim(fake)


def test_clear_empties_only_a_folder_of_fakebench_and_keeps_its_marker(tmp_path):
    run = outputs.claim(tmp_path / "run")
    (run / "sub").mkdir()
    (run / "sub" / "x.bin").write_bytes(b"1")
    (run / "y.txt").write_text("2")
    outputs.clear(run)
    assert [p.name for p in run.iterdir()] == [outputs.MARKER]


def test_replace_folder_swaps_in_a_finished_folder_and_refuses_a_foreign_one(tmp_path):
    old = outputs.claim(tmp_path / "export")
    (old / "old.txt").write_text("old")
    staging = tmp_path / ".staging"
    staging.mkdir()
    (staging / "new.txt").write_text("new")
    outputs.replace_folder(staging, old)
    assert {p.name for p in old.iterdir()} == {"new.txt", outputs.MARKER} and not staging.exists()
    thesis = _thesis(tmp_path / "theirs")
    staging.mkdir()
    with pytest.raises(OutputError):
        outputs.replace_folder(staging, tmp_path / "theirs")
    assert thesis.exists() and staging.exists()


# -- single files ----------------------------------------------------------------------------------------
def test_a_file_is_replaced_only_if_fakebench_wrote_it_and_nobody_changed_it(tmp_path):
    path = tmp_path / "report.html"
    assert outputs.check_file(path) == path  # a new file
    path.write_text("mine")
    with pytest.raises(OutputError, match="report.html exists and fakebench did not write it.*choose another --out"):
        outputs.check_file(path)
    write_json(path, {"ours": True})
    outputs.record_file(path)
    assert outputs.check_file(path) == path
    time.sleep(0.01)
    path.write_text("edited by hand")
    with pytest.raises(OutputError, match="changed since fakebench wrote it"):
        outputs.check_file(path)
    assert path.read_text() == "edited by hand"
    with pytest.raises(OutputError, match="is a folder"):
        outputs.check_file(tmp_path)


# -- locks -----------------------------------------------------------------------------------------------
_HOLDER = ("import sys, time; from fakebench import outputs\n"
           "with outputs.lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)\n")


@contextlib.contextmanager
def _holder(folder: Path):
    proc = subprocess.Popen([sys.executable, "-c", _HOLDER, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_second_writer_is_refused_and_a_killed_writers_lock_taken_over(tmp_path, caplog):
    run = outputs.claim(tmp_path / "run")
    with _holder(run) as proc:
        with pytest.raises(OutputError, match=rf"run is in use by process {proc.pid} since .*wait for it to finish or "
                                              "choose another --out"):
            with outputs.lock(run):
                pass
        proc.kill()  # SIGKILL: the lock file stays behind
        proc.wait()
        assert (run / outputs.LOCK).exists()
        with caplog.at_level(logging.WARNING, logger="fakebench"), outputs.lock(run):
            assert json.loads((run / outputs.LOCK).read_text())["pid"] == os.getpid()
        assert f"taking over the lock of process {proc.pid}, which is gone" in caplog.text
    assert not (run / outputs.LOCK).exists()  # released at the end of the block


def test_a_lock_whose_pid_now_belongs_to_another_process_is_stale(tmp_path, caplog):
    run = outputs.claim(tmp_path / "run")
    parent = os.getppid()  # alive, but not the process that wrote this lock (another start time)
    (run / outputs.LOCK).write_text(json.dumps({"pid": parent, "host": os.uname().nodename, "started": "1",
                                                "since": "earlier", "command": "fakebench generate train"}))
    with caplog.at_level(logging.WARNING, logger="fakebench"), outputs.lock(run):
        pass
    assert "which is gone" in caplog.text
    (run / outputs.LOCK).write_text(json.dumps({"pid": 1, "host": "another-host", "since": "earlier"}))
    with pytest.raises(OutputError, match=r"in use by process 1 on another-host.*if that job is over, delete"):
        with outputs.lock(run):
            pass


# -- writes ----------------------------------------------------------------------------------------------
def test_an_atomic_write_that_fails_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    write_json(path, {"run": 1})
    monkeypatch.setenv("FAKEBENCH_FAULT", "enospc:1")
    monkeypatch.setattr("fakebench.files._writes", 0)
    with pytest.raises(OutputError, match=r"results.json: cannot write \(ENOSPC\): no space left.*previous "
                                          "results.json .* is left as it was"):
        write_json(path, {"run": 2})
    assert json.loads(path.read_text()) == {"run": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary left
    monkeypatch.delenv("FAKEBENCH_FAULT")
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:  # a writer's own failure: nothing replaced either
        tmp.write_text("half")
        raise RuntimeError("the writer failed")
    assert json.loads(path.read_text()) == {"run": 1}


def test_a_torn_last_log_line_is_dropped_when_read(tmp_path):
    log = tmp_path / "log.csv"
    append_line(log, "1,0.5", header="step,loss")
    append_line(log, "2,0.4", header="step,loss")
    with open(log, "a") as fh:
        fh.write("3,0.")  # a kill in the middle of a line
    assert complete_lines(log) == ["step,loss", "1,0.5", "2,0.4"]


@pytest.fixture
def small_disk(tmp_path):
    """A real 1 MiB tmpfs (root and mount needed: skipped where they are not)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root and mount permission")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_and_a_read_only_disk_are_one_line_and_keep_the_previous_files(small_disk):
    path = small_disk / "checkpoint.json"
    write_json(path, {"step": 100})
    big = {"weights": "x" * 2_000_000}
    with pytest.raises(OutputError, match=r"checkpoint.json: cannot write \(ENOSPC\)"):
        write_json(path, big)
    assert json.loads(path.read_text()) == {"step": 100}
    with pytest.raises(OutputError, match=r"preview.png: cannot write \(ENOSPC\)"):  # not "cannot write this format"
        write_image(small_disk / "preview.png", np.random.default_rng(0).integers(0, 255, (600, 600, 3), np.uint8))
    assert sorted(p.name for p in small_disk.iterdir()) == ["checkpoint.json"]
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(OutputError, match=r"checkpoint.json: cannot write \(EROFS\): the file system is read-only"):
        write_json(path, {"step": 200})
    assert json.loads(path.read_text()) == {"step": 100}


# -- commands --------------------------------------------------------------------------------------------
@pytest.mark.media
def test_faces_extract_never_replaces_a_folder_it_did_not_write(tmp_path, capsys):
    from tests.conftest import sample

    video = sample("A")[0]
    thesis = _thesis(tmp_path / "results" / video.stem)
    assert main(["faces", "extract", str(video), "--out", str(tmp_path / "results"), "--frames", "2", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not write it" in err and "--out" in err
    assert thesis.read_text().endswith("years of work")
    ours = tmp_path / "ours"
    for _ in range(2):  # the second run replaces its own export
        assert main(["faces", "extract", str(video), "--out", str(ours), "--frames", "2", "-q"]) == 0
    assert outputs.marked(ours / video.stem) and (ours / video.stem / "track.npz").exists()


def test_the_demo_refuses_a_folder_of_someone_else_before_any_stage(tmp_path, capsys):
    folder = tmp_path / "mine"
    thesis = _thesis(folder)
    (folder / "generator").mkdir()
    (folder / "generator" / "notes.md").write_text("my own generator notes")
    assert main(["demo", "--out", str(folder), "--preset", "smoke", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did not write it" in err
    assert thesis.exists() and (folder / "generator" / "notes.md").exists()
    assert sorted(p.name for p in folder.iterdir()) == ["generator", "thesis.tex"]


def test_a_checkpoint_is_flushed_to_disk_before_its_rename_and_its_folder_after(tmp_path, monkeypatch):
    import torch

    from fakebench.files import save_torch

    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
                        or real_fsync(fd))
    monkeypatch.setattr(os, "replace", lambda a, b: events.append(("rename", str(b))) or real_replace(a, b))
    path = tmp_path / "checkpoint.pt"
    save_torch({"w": torch.arange(3)}, path)
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "rename", "fsync"], events
    assert events[0][1].startswith(str(tmp_path / ".checkpoint.")) and events[2][1] == str(tmp_path)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.arange(3))


def test_a_kill_while_the_marker_was_written_does_not_make_the_folder_foreign(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "..fakebench.1a2b3c4d.json").write_text('{"writ')  # the marker's temporary, cut short
    assert outputs.marked(outputs.claim(folder))
    assert sorted(p.name for p in folder.iterdir()) == [outputs.MARKER]


def test_taking_the_lock_sweeps_what_killed_writers_left(tmp_path):
    run = outputs.claim(tmp_path / "run")
    (run / "checkpoints").mkdir()
    left = [run / ".checkpoint.0badcafe.pt", run / "checkpoints" / ".step-000010.deadbeef.pt"]
    keep = [run / "checkpoint.pt", run / ".hidden-notes", run / "checkpoints" / "step-000010.pt"]
    other = outputs.claim(run / "bench")  # another job's folder: its temporaries are its own business
    theirs = other / ".metrics.12345678.json"
    for path in [*left, *keep, theirs]:
        path.write_text("x")
    with outputs.lock(run):
        pass
    assert not any(p.exists() for p in left) and all(p.exists() for p in keep) and theirs.exists()
