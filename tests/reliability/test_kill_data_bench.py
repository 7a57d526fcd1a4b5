"""`data extract` and `bench run` survive SIGKILL: the same command, run again, resumes and ends with the
outputs of an uninterrupted run.

Each job is tiny and real: `data extract` on samples E and E-lq (176x144; 2 frames each, 32 px, no face
cache, no landmarks) and `bench run` with the tiny classifier on the same two videos (one as real, one
as fake; clean and one JPEG level: 4 units, a frame without a face among them). The uninterrupted run
counts its atomic writes; the job is then killed at a seeded write (``FAKEBENCH_FAULT=kill:K``, the temporary
file complete and not yet renamed) and after a seeded time, and run again until it completes (the
slow variants: three more seeded writes, and every write). Asserted each time: the rerun did not redo
what was finished before the kill (the "N of M videos already done" line against the status log; the
"N from the cache" line against the cached units), the outputs equal the uninterrupted run's, every
row once, no temporary file and no lock left.

What is compared bit for bit, and what is not (and why):
- extract: ``extract.json`` bit for bit; ``status.parquet`` / ``status.csv`` / ``status.jsonl`` equal
  without ``seconds`` (the time each video took); the track files array for array and their metadata:
  their bytes differ because ``np.savez`` stamps each member of the zip with the time it was written.
- bench: ``predictions.parquet``, ``videos.parquet``, ``metrics.csv`` and ``config.yaml`` bit for bit;
  ``metrics.json`` without ``created`` (a time) and ``work`` (how many units came from the cache and the
  seconds spent: what a resumed run legitimately does differently); ``env.json`` not at all (start and
  end times, the machine).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from fakebench import outputs
from fakebench.datasets.index import index_layout, save_index
from fakebench.faces.track import FaceTrack
from tests.conftest import sample
from tests.reliability import harness

pytestmark = pytest.mark.media

TINY = {"name": "classifier", "label": "tiny", "config": {"backbone": "test_efficientnet", "input_size": 32, "frames": 4}}


def run_again(args: list[str], resumes, **extra: str) -> None:
    """Run the killed command again (it must complete); ``resumes()``, called before, returns the check of its stderr."""
    expect = resumes()
    done = harness.fakebench(args, **extra)
    assert done.returncode == 0, done.stderr
    expect(done.stderr)


# A kill at every single write of the job: thorough but about 10 minutes on 2 cores, so opt-in.
EVERY_WRITE = pytest.param(None, marks=pytest.mark.skipif(not os.environ.get("FAKEBENCH_KILL_SWEEP"),
                                                          reason="a kill at every write: set FAKEBENCH_KILL_SWEEP=1"))


def kill_points(writes: list[str], seed: int, count: int, inside: str | None = None) -> list[int]:
    """Seeded write numbers to kill at; ``inside``: only writes whose path matches it (a track, a cached unit)."""
    where = [k for k, path in enumerate(writes, 1) if inside is None or re.search(inside, path)]
    return sorted(where[i - 1] for i in harness.points(seed, len(where), count))


def timed_kill(args: list[str], seconds: float, seed: int, **extra: str) -> float:
    """SIGKILL after a seeded share of the uninterrupted run's time (wherever the job is, mid-write too)."""
    delay = float(np.random.default_rng(seed).uniform(0.35, 0.9)) * seconds
    harness.kill_after(args, delay, **extra)
    return delay


# -- data extract -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    sample("E")
    sample("E-lq")
    df = index_layout("samples", None)
    df = df[df["video_id"].isin(["samples/E", "samples/E-lq"])].reset_index(drop=True)
    return save_index(df, tmp_path_factory.mktemp("index") / "index.parquet")


def extract_args(index: Path, out: Path) -> list[str]:
    return ["data", "extract", str(index), "--out", str(out), "--frames", "2", "--size", "32", "--no-cache",
            "--no-landmarks"]  # dlib's model takes longer to load than these two videos take to extract


@pytest.fixture(scope="module")
def extracted(index, tmp_path_factory) -> dict:
    """The uninterrupted extraction: its folder, its atomic writes in order, its wall time."""
    work = tmp_path_factory.mktemp("extract-reference")
    began = time.monotonic()
    done, writes = harness.count_writes(extract_args(index, work / "out"), work / "writes.log")
    assert done.returncode == 0, done.stderr
    return {"out": work / "out", "writes": writes, "seconds": time.monotonic() - began}


def log_rows(out: Path) -> list[dict]:
    """status.jsonl's complete lines, ``seconds`` left out."""
    from fakebench.files import complete_lines

    path = out / "status.jsonl"
    rows = [json.loads(line) for line in complete_lines(path) if line.strip()] if path.exists() else []
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def finished_videos(out: Path) -> int:
    """Videos the log says are done (and whose track is in place): what a rerun must not extract again."""
    return sum((out / row["track"]).is_file() for row in log_rows(out) if row["status"] != "unreadable")


def assert_same_extraction(out: Path, ref: Path) -> None:
    assert (out / "extract.json").read_bytes() == (ref / "extract.json").read_bytes()
    for name in ("status.parquet", "status.csv"):
        read = pd.read_parquet if name.endswith(".parquet") else pd.read_csv
        pd.testing.assert_frame_equal(read(out / name).drop(columns="seconds"), read(ref / name).drop(columns="seconds"))
    rows = log_rows(out)
    assert rows == log_rows(ref) and len({r["video_id"] for r in rows}) == len(rows) == 2  # each video once
    tracks = sorted(p.name for p in (out / "tracks").iterdir())
    assert tracks == sorted(p.name for p in (ref / "tracks").iterdir()) and len(tracks) == 2
    for name in tracks:
        got, want = FaceTrack.load(out / "tracks" / name), FaceTrack.load(ref / "tracks" / name)
        for field in ("frames", "has_face", "boxes", "points5", "landmarks", "affines", "crops"):
            np.testing.assert_array_equal(getattr(got, field), getattr(want, field), err_msg=f"{name}: {field}")
        assert (got.source, got.size, got.fps) == (want.source, want.size, want.fps)
    assert harness.temporaries(out) == [] and not (out / outputs.LOCK).exists()


def extract_resumes(out: Path):
    """Before a rerun: the videos already finished; after it: they were not extracted again."""
    before = finished_videos(out)

    def expect(stderr: str) -> None:
        if before:
            assert f"{out}: {before} of 2 videos already done, {2 - before} to go" in stderr, stderr
        else:
            assert "already done" not in stderr, stderr

    return expect


def test_extract_killed_at_a_track_and_at_a_seeded_time_resumes_to_the_uninterrupted_result(index, extracted,
                                                                                             tmp_path):
    for k in kill_points(extracted["writes"], seed=15, count=1, inside="/tracks/"):
        out = tmp_path / f"kill-{k}"
        args = extract_args(index, out)
        harness.kill_at_write(args, k)
        assert harness.temporaries(out), f"the kill at write {k} left no temporary: it did not land inside a write"
        run_again(args, lambda out=out: extract_resumes(out))
        assert_same_extraction(out, extracted["out"])
    out = tmp_path / "timed"
    args = extract_args(index, out)
    timed_kill(args, extracted["seconds"], seed=4)
    run_again(args, lambda: extract_resumes(out))
    assert_same_extraction(out, extracted["out"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [EVERY_WRITE, 16])  # every write (opt-in); 16: three seeded writes anywhere
def test_extract_killed_at_more_writes_resumes_to_the_uninterrupted_result(index, extracted, tmp_path, seed):
    every = range(1, len(extracted["writes"]) + 1)
    for k in every if seed is None else kill_points(extracted["writes"], seed=seed, count=3):
        out = tmp_path / f"kill-{k}"
        args = extract_args(index, out)
        harness.kill_at_write(args, k)
        run_again(args, lambda out=out: extract_resumes(out))
        assert_same_extraction(out, extracted["out"])


# -- bench run --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def bench_config(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench")
    for label, video in (("real", sample("E-lq")[0]), ("fake", sample("E")[0])):
        (root / "data" / label).mkdir(parents=True)
        (root / "data" / label / video.name).symlink_to(video)
    config = {"detectors": [TINY], "datasets": [{"name": "two", "layout": "folder", "root": "data"}],
              "perturbations": [{"name": "jpeg", "levels": [3]}], "metrics": {"bootstrap": 50}, "seed": 3}
    (root / "bench.yaml").write_text(yaml.safe_dump(config))
    return root / "bench.yaml"


def bench_args(config: Path, out: Path) -> list[str]:
    return ["bench", "run", "--config", str(config), "--out", str(out)]


@pytest.fixture(scope="module")
def benched(bench_config, tmp_path_factory) -> dict:
    """The uninterrupted run (its own cache): its folder, its atomic writes in order, its wall time."""
    work = tmp_path_factory.mktemp("bench-reference")
    began = time.monotonic()
    done, writes = harness.count_writes(bench_args(bench_config, work / "run"), work / "writes.log",
                                        FAKEBENCH_CACHE=str(work / "cache"))
    assert done.returncode == 0, done.stderr
    assert "tiny: 4 units: 0 from the cache, 4 computed" in done.stderr
    return {"run": work / "run", "writes": writes, "seconds": time.monotonic() - began}


def cached_units(cache: Path) -> int:
    """Units in place in the cache (not the temporary a kill left: the cache is not swept)."""
    return sum(not p.name.startswith(".") for p in (cache / "bench").glob("*/*/*.json"))


def bench_resumes(cache: Path):
    """Before a rerun: the units already scored; after it: they came from the cache, the others were computed."""
    before = cached_units(cache)

    def expect(stderr: str) -> None:
        said = re.search(r"tiny: 4 units: (\d+) from the cache, (\d+) computed", stderr)
        assert said and (int(said[1]), int(said[2])) == (before, 4 - before), stderr

    return expect


def metrics_doc(run: Path) -> dict:
    doc = json.loads((run / "metrics.json").read_text())
    return {k: v for k, v in doc.items() if k not in ("created", "work")}


def assert_same_run(run: Path, ref: Path) -> None:
    same = ("predictions.parquet", "videos.parquet", "metrics.csv", "config.yaml")
    got, want = harness.digest(run), harness.digest(ref)
    assert {n: got.get(n) for n in same} == {n: want[n] for n in same}
    assert set(got) == set(want)  # no file more or less
    assert metrics_doc(run) == metrics_doc(ref)
    predictions = pd.read_parquet(run / "predictions.parquet")
    assert not predictions.duplicated(["perturbation", "level", "video_id", "frame"]).any()
    assert predictions.groupby(["perturbation", "level"]).size().to_dict() == {("jpeg", 3): 10, ("none", 0): 10}
    assert harness.temporaries(run) == [] and not (run / outputs.LOCK).exists()


def test_bench_run_killed_at_a_unit_and_at_a_seeded_time_resumes_to_the_uninterrupted_tables(bench_config, benched,
                                                                                            tmp_path):
    for k in kill_points(benched["writes"], seed=15, count=1, inside=r"/bench/[0-9a-f]{16}/[0-9a-f]{2}/"):
        run, cache = tmp_path / f"kill-{k}", tmp_path / f"cache-{k}"
        args = bench_args(bench_config, run)
        harness.kill_at_write(args, k, FAKEBENCH_CACHE=str(cache))
        run_again(args, lambda cache=cache: bench_resumes(cache), FAKEBENCH_CACHE=str(cache))
        assert_same_run(run, benched["run"])
    run, cache = tmp_path / "timed", tmp_path / "cache"
    args = bench_args(bench_config, run)
    timed_kill(args, benched["seconds"], seed=4, FAKEBENCH_CACHE=str(cache))
    run_again(args, lambda: bench_resumes(cache), FAKEBENCH_CACHE=str(cache))
    assert_same_run(run, benched["run"])


@pytest.mark.slow
@pytest.mark.parametrize("seed", [EVERY_WRITE, 16])  # every write (opt-in); 16: three seeded writes anywhere
def test_bench_run_killed_at_more_writes_resumes_to_the_uninterrupted_tables(bench_config, benched, tmp_path, seed):
    every = range(1, len(benched["writes"]) + 1)
    for k in every if seed is None else kill_points(benched["writes"], seed=seed, count=3):
        run, cache = tmp_path / f"kill-{k}", tmp_path / f"cache-{k}"
        args = bench_args(bench_config, run)
        harness.kill_at_write(args, k, FAKEBENCH_CACHE=str(cache))
        run_again(args, lambda cache=cache: bench_resumes(cache), FAKEBENCH_CACHE=str(cache))
        assert_same_run(run, benched["run"])
