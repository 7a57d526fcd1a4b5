"""`detect train` survives SIGKILL and a full disk, keeps to its own --out, and `detect score --out`
replaces only a file fakebench wrote.

A tiny artifacts run on real faces (samples D and E, 6 crops each at 32 px, exported once by
`faces extract`) is run uninterrupted with its writes counted, then killed at seeded writes and
after a seeded time, and run again until it completes: it must resume from its last checkpoint and
end with the uninterrupted run's weights, bit for bit, and its history.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fakebench import files, outputs
from fakebench.cli import main
from tests.conftest import sample
from tests.reliability import harness

pytestmark = pytest.mark.media

TIMING = ("images_per_s", "seconds")  # history columns that measure the machine, not the run


def train_args(faces: Path, run: Path) -> list[str]:
    return ["detect", "train", "--detector", "artifacts", "--real", str(faces), "--out", str(run), "--backbone",
            "test_efficientnet", "--size", "32", "--frames", "4", "--epochs", "3", "--batch", "8", "--seed", "0"]


@pytest.fixture(scope="module")
def faces(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("faces")
    videos = [sample("D")[0], sample("E")[0]]
    assert main(["faces", "extract", *map(str, videos), "--size", "32", "--frames", "6", "--out", str(root), "-q"]) == 0
    return root


@pytest.fixture(scope="module")
def reference(faces, tmp_path_factory) -> dict:
    """The uninterrupted run: its folder and its atomic writes in order."""
    work = tmp_path_factory.mktemp("reference")
    done, writes = harness.count_writes(train_args(faces, work / "run"), work / "writes.log")
    assert done.returncode == 0, done.stderr
    return {"run": work / "run", "writes": writes}


def load(path: Path) -> dict:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)


def history(run: Path) -> list[dict]:
    with open(run / "history.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(fh)]


def assert_same_run(run: Path, ref: Path) -> None:
    """Bit-identical weights in best.pt and last.pt, the same history, nothing half-written, no lock."""
    import torch

    for name in ("best.pt", "last.pt"):
        got, want = load(run / name), load(ref / name)
        assert got["state_dict"].keys() == want["state_dict"].keys()
        for part in want["state_dict"]:
            for key, tensor in want["state_dict"][part].items():
                assert torch.equal(got["state_dict"][part][key], tensor), f"{name}: {part}.{key} differs"
        assert got.get("epoch") == want.get("epoch")
    assert history(run) == history(ref) and [int(r["epoch"]) for r in history(run)] == [1, 2, 3]
    assert [h["epoch"] for h in load(run / "last.pt")["history"]] == [1, 2, 3]
    assert harness.temporaries(run) == [] and not (run / outputs.LOCK).exists()


def epoch_done(run: Path) -> int:
    """The epoch the last checkpoint reached (0 without one)."""
    return int(load(run / "last.pt")["epoch"]) if (run / "last.pt").exists() else 0


def run_to_the_end(args: list[str], run: Path, tries: int = 3) -> None:
    """Run the command again until it completes; each rerun resumes from the checkpoint it finds."""
    for _ in range(tries):
        before = epoch_done(run)
        done = harness.fakebench(args)
        assert done.returncode == 0, done.stderr
        trained = sorted({int(line.split("epoch ")[1].split("/")[0]) for line in done.stderr.splitlines()
                          if line.startswith("fakebench: epoch ")})
        assert trained == list(range(before + 1, 4)), f"checkpoint at epoch {before}, the rerun trained {trained}"
        if before:
            assert f"resuming {run} at epoch {before + 1} step 0" in done.stderr
        if json.loads(done.stdout.strip().splitlines()[-1])["finished"]:
            return
    pytest.fail(f"not finished after {tries} reruns")


def checkpoint_writes(writes: list[str]) -> list[int]:
    """The write numbers (1-based) that put a checkpoint in place."""
    return [k for k, path in enumerate(writes, 1) if Path(path).name in ("last.pt", "best.pt")]


# -- kills ------------------------------------------------------------------------------------------------
def test_killed_at_a_checkpoint_it_resumes_and_ends_with_the_uninterrupted_weights(faces, reference, tmp_path):
    k = harness.points(5, len(checkpoint_writes(reference["writes"])), 1)[0]
    k = checkpoint_writes(reference["writes"])[k - 1]
    run = tmp_path / "run"
    args = train_args(faces, run)
    harness.kill_at_write(args, k)
    assert harness.temporaries(run), "the kill left no temporary: it did not land inside a write"
    assert epoch_done(run) >= 1, "no checkpoint before the kill: nothing to resume from"
    run_to_the_end(args, run)
    assert_same_run(run, reference["run"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [3])
def test_killed_at_seeded_writes_it_ends_with_the_uninterrupted_run(faces, reference, tmp_path, seed):
    for k in harness.points(seed, len(reference["writes"]), 2):  # write 1 is the folder's marker
        run = tmp_path / f"run-{k}"
        args = train_args(faces, run)
        harness.kill_at_write(args, k)
        run_to_the_end(args, run)
        assert_same_run(run, reference["run"])


@pytest.mark.slow
def test_killed_at_a_seeded_time_it_ends_with_the_uninterrupted_run(faces, reference, tmp_path):
    """SIGKILL wherever the job is (mid-step, mid-write): a seeded delay after its first checkpoint."""
    run = tmp_path / "run"
    args = train_args(faces, run)
    proc = subprocess.Popen([sys.executable, "-m", "fakebench", *args, "-q"], env=harness.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert harness.wait_for(run / "last.pt", timeout=300), "no first checkpoint"
        time.sleep(float(np.random.default_rng(7).uniform(0.0, 0.3)))
        proc.send_signal(signal.SIGKILL)
    finally:
        code = proc.wait()
    assert code == -signal.SIGKILL, f"the run ended (rc {code}) before the kill: make the delay shorter"
    run_to_the_end(args, run)
    assert_same_run(run, reference["run"])


def test_a_torn_marker_does_not_lock_the_folder_out(faces, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "..fakebench.0a1b2c3d.json").write_text("{}")  # what a kill at the marker's rename leaves
    assert main([*train_args(faces, run), "--epochs", "1", "-q"]) == 0


# -- a full disk -------------------------------------------------------------------------------------------
def test_a_full_disk_at_a_checkpoint_is_one_line_and_the_previous_checkpoint_stays(faces, tmp_path, monkeypatch,
                                                                                     capsys):
    log = tmp_path / "writes.log"
    monkeypatch.setattr(files, "_writes", 0)
    monkeypatch.setenv("FAKEBENCH_FAULT_LOG", str(log))  # this process's writes (its threads may train otherwise)
    assert main([*train_args(faces, tmp_path / "counted"), "-q"]) == 0
    last = [k for k, path in enumerate(log.read_text().splitlines(), 1) if Path(path).name == "last.pt"]
    monkeypatch.delenv("FAKEBENCH_FAULT_LOG")
    monkeypatch.setattr(files, "_writes", 0)
    monkeypatch.setenv("FAKEBENCH_FAULT", f"enospc:{last[1]}")  # the second epoch's last.pt
    run = tmp_path / "run"
    assert main([*train_args(faces, run), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fakebench: error: {run / 'last.pt'}: cannot write (ENOSPC): no space")
    assert load(run / "last.pt")["epoch"] == 1 and load(run / "best.pt")["epoch"] in (1, 2)
    assert harness.temporaries(run) == [] and not (run / outputs.LOCK).exists()


def _user_namespace_mounts() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


def test_a_really_full_disk_at_a_checkpoint_is_one_line(faces, reference, tmp_path):
    """A tmpfs that holds the first epoch's checkpoints but not the temporary of the second last.pt (a
    mount namespace of its own: no root needed, nothing left mounted). torch.save into a file on a full disk
    raises torch's own RuntimeError; fakebench must still say one line and keep the previous checkpoint."""
    if not _user_namespace_mounts():
        pytest.skip("no unprivileged mount namespace here (unshare --user --mount) to make a small full disk")
    ref = reference["run"]
    room = (ref / "best.pt").stat().st_size + (ref / "last.pt").stat().st_size * 3 // 2 + 64 * 1024
    disk, kept = tmp_path / "disk", tmp_path / "kept"
    disk.mkdir()
    args = " ".join(f"'{a}'" for a in train_args(faces, disk / "run"))
    script = (f"mount -t tmpfs -o size={room // 1024}k tmpfs '{disk}' && {sys.executable} -m fakebench {args} -q; "
              f"code=$?; cp -a '{disk}/run' '{kept}'; exit $code")
    done = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], env=harness.env(),
                          capture_output=True, text=True, timeout=600)
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(err) == 1, done.stderr
    assert err[0].startswith("fakebench: error: ") and "(ENOSPC): no space left on the device" in err[0]
    assert load(kept / "last.pt")["epoch"] >= 1 and load(kept / "best.pt")["epoch"] >= 1


# -- whose folder, whose file ------------------------------------------------------------------------------
def test_a_foreign_run_folder_is_refused_untouched(faces, tmp_path, capsys):
    run = tmp_path / "thesis"
    run.mkdir()
    (run / "thesis.tex").write_text("\\chapter{Results}\n")
    assert main([*train_args(faces, run), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not empty and fakebench did not write it (it holds thesis.tex)" in err[0]
    assert [p.name for p in run.iterdir()] == ["thesis.tex"] and (run / "thesis.tex").read_text() == "\\chapter{Results}\n"


def test_a_second_writer_is_refused_and_a_dead_ones_lock_is_taken_over(faces, tmp_path, capsys):
    run = tmp_path / "run"
    outputs.claim(run, "a detector training run")
    holder = subprocess.Popen(["sleep", "60"])
    try:
        (run / outputs.LOCK).write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(),
                                                    "command": "fakebench detect train", "since": "now",
                                                    "started": outputs._started(holder.pid)}))
        assert main([*train_args(faces, run), "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"is in use by process {holder.pid}" in err[0]
        assert sorted(p.name for p in run.iterdir()) == [outputs.MARKER, outputs.LOCK]
    finally:
        holder.kill()
        holder.wait()
    assert main([*train_args(faces, run), "--epochs", "1"]) == 0
    assert f"taking over the lock of process {holder.pid}, which is gone" in capsys.readouterr().err
    assert not (run / outputs.LOCK).exists() and load(run / "last.pt")["epoch"] == 1


def test_score_out_replaces_only_its_own_file(reference, tmp_path, capsys):
    still = sample("ORL")[0]
    args = ["detect", "score", "--detector", "artifacts", "--weights", str(reference["run"]), str(still), "-q"]
    notes = tmp_path / "notes.jsonl"
    notes.write_text("my own notes\n")
    assert main([*args, "--out", str(notes)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "exists and fakebench did not write it" in err[0]
    assert notes.read_text() == "my own notes\n"
    scores = tmp_path / "scores.jsonl"
    assert main([*args, "--out", str(scores)]) == 0
    first = scores.read_text()
    assert json.loads(first)["path"] == str(still)
    assert main([*args, "--out", str(scores)]) == 0  # its own file: replaced
    assert scores.read_text() == first and harness.temporaries(tmp_path) == []
    os.utime(scores, ns=(0, 0))  # someone touched it since
    capsys.readouterr()
    assert main([*args, "--out", str(scores)]) == 2
    assert "changed since fakebench wrote it" in capsys.readouterr().err
