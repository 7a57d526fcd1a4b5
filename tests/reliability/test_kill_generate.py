"""SIGKILL a tiny ``fakebench generate train`` anywhere: the same command, run again, resumes and ends exactly
where an uninterrupted run ends (checkpoint tensors, optimizer state, log rows, previews), with no temporary
file or lock left behind.

The inputs are the two smallest sample videos (D: 72 frames, E: 120 frames; the CLI takes whole files), every
5th frame, nothing held out (D is too short for a held-out segment after its gap); the model is the tests' tiny
one (width 8, latent 32), 20 steps with a checkpoint, validation and preview every 5, the GAN term on from step 5.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import sample
from tests.reliability import harness

pytestmark = pytest.mark.media

STEPS = 20
LOG = re.compile(r"resuming at step (\d+)")


def command(run: Path) -> list[str]:
    return ["generate", "train", "--a", sample("D")[0], "--b", sample("E")[0], "--out", run, "--width", "8",
            "--latent", "32", "--stride", "5", "--min-faces", "8", "--held-out", "0", "--batch", "4",
            "--steps", STEPS, "--save-every", "5", "--precision", "fp32", "--seed", "3", "--device", "cpu"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted run, on a warm face cache (as every rerun finds it), with the paths of its atomic writes."""
    from fakebench.faces import FaceExtractor

    extractor = FaceExtractor(size=128, margin=0.25, device="cpu")
    for video in (sample("D")[0], sample("E")[0]):  # what `generate train` extracts: cached, not counted below
        extractor.extract(video, every=5, progress=False)
    folder = tmp_path_factory.mktemp("kill-generate")
    run = folder / "reference"
    started = time.perf_counter()
    done, writes = harness.count_writes(command(run), folder / "writes.txt")
    assert done.returncode == 0, done.stderr
    assert writes and all(Path(w).is_relative_to(run) for w in writes), "the face cache was not warm"
    seconds = time.perf_counter() - started
    return {"run": run, "writes": writes, "seconds": seconds, "training": float(log_rows(run, timing=True)[-1]["seconds"])}


def checkpoint_step(run: Path) -> int | None:
    path = run / "checkpoint.pt"
    return int(torch.load(path, weights_only=True)["step"]) if path.exists() else None


def log_rows(run: Path, timing: bool = False) -> list[dict]:
    """log.csv's rows, without the columns that measure time (seconds, faces/s) unless ``timing``."""
    import csv

    with open(run / "log.csv", newline="") as fh:
        return [{k: v for k, v in row.items() if timing or k not in ("seconds", "faces_per_s")}
                for row in csv.DictReader(fh)]


def assert_same_tensors(got, want, where: str = "checkpoint") -> None:
    """Every tensor bit for bit, every other value equal, through nested dicts and lists."""
    if isinstance(want, torch.Tensor):
        assert isinstance(got, torch.Tensor) and got.dtype == want.dtype and torch.equal(got, want), where
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), f"{where}: {sorted(got)} != {sorted(want)}"
        for key in want:
            assert_same_tensors(got[key], want[key], f"{where}[{key!r}]")
    elif isinstance(want, list | tuple):
        assert isinstance(got, list | tuple) and len(got) == len(want), where
        for i, (a, b) in enumerate(zip(got, want)):
            assert_same_tensors(a, b, f"{where}[{i}]")
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


def rerun_until_done(run: Path, kills: list[int]) -> list[str]:
    """Run the command again (SIGKILLed at write ``kills[i]`` on its i-th try) until it completes; checks each
    try resumed from the checkpoint its killed predecessor left, keeping the log rows up to it. Returns stderrs."""
    errs = []
    for attempt in range(len(kills) + 2):
        step, locked = checkpoint_step(run), (run / ".fakebench.lock").exists()
        kept = [r for r in log_rows(run) if int(r["step"]) <= step] if step and (run / "log.csv").exists() else []
        extra = {"FAKEBENCH_FAULT": f"kill:{kills[attempt]}"} if attempt < len(kills) else {}
        done = harness.fakebench(command(run), **extra)
        errs.append(done.stderr)
        resumed = LOG.search(done.stderr)
        if step:  # resumed from the checkpoint the kill left (not from step 0), its log rows kept
            assert resumed and int(resumed.group(1)) == step, done.stderr
            assert log_rows(run)[: len(kept)] == kept
        else:  # no checkpoint yet: a fresh start
            assert resumed is None, done.stderr
        if locked:  # the killed run's lock: taken over, with a warning
            assert "taking over the lock of process" in done.stderr, done.stderr
        if done.returncode == 0:
            return errs
        assert attempt < len(kills) and done.returncode == -9, done.stderr
    raise AssertionError(f"{run}: still not done after {len(kills)} kills and two clean reruns")


def assert_like_reference(run: Path, reference: dict) -> None:
    want = torch.load(reference["run"] / "checkpoint.pt", weights_only=True)
    got = torch.load(run / "checkpoint.pt", weights_only=True)
    assert got["step"] == STEPS
    assert_same_tensors({k: v for k, v in got.items() if k != "seconds"},
                        {k: v for k, v in want.items() if k != "seconds"})
    assert log_rows(run) == log_rows(reference["run"])  # the same steps once each, the same losses
    # every other file byte for byte (previews, config.yaml, data.json, env.json)
    assert harness.digest(run, skip=("checkpoint.pt", "log.csv")) == harness.digest(reference["run"],
                                                                                      skip=("checkpoint.pt", "log.csv"))
    assert harness.temporaries(run) == []
    assert not (run / ".fakebench.lock").exists()


# (seed of the kill point, writes at which the reruns are killed again): each run of the command is ~12 s here
@pytest.mark.parametrize(("seed", "again"), [(0, []), pytest.param(1, [2], marks=pytest.mark.slow),
                                             pytest.param(11, [], marks=pytest.mark.slow)])
def test_killed_at_a_write_the_rerun_resumes_and_ends_bit_identical(tmp_path, reference, seed, again):
    (k,) = harness.points(seed, len(reference["writes"]), 1)
    run = tmp_path / "run"
    harness.kill_at_write(command(run), k)
    rerun_until_done(run, kills=again)  # [2]: the first rerun dies at its 2nd write (after env.json) too
    assert_like_reference(run, reference)


def test_killed_after_a_seeded_delay_the_rerun_resumes_and_ends_bit_identical(tmp_path, reference):
    rng = np.random.default_rng(7)
    # start-up and face loading take most of a run: aim at its training part (the machine's load still moves it)
    delay = reference["seconds"] - reference["training"] * float(rng.uniform(0.2, 1.0))
    run = tmp_path / "run"
    status = harness.kill_after(command(run), delay)
    rerun_until_done(run, kills=[])
    assert_like_reference(run, reference)
    if status == 0:
        pytest.skip(f"the run finished within {delay:.1f} s; nothing was killed (the machine was fast)")
