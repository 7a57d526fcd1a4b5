"""`fakebench demo --preset smoke` killed with SIGKILL twice (at a seeded write, then after a seeded delay)
and run again: it finishes, keeps the stages that were done, and leaves no temporary file or lock."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fakebench.demo import STAGES
from tests.conftest import sample
from tests.reliability import harness


@pytest.mark.media
@pytest.mark.slow
def test_a_killed_demo_resumes_its_stages_and_finishes(tmp_path):
    for sample_id in ("A", "B", "C", "D", "E", "ORL"):
        sample(sample_id)
    rng = np.random.default_rng(15)
    out = tmp_path / "demo"
    args = ["demo", "--preset", "smoke", "--out", out, "-q"]
    writes = tmp_path / "writes.txt"
    k = int(rng.integers(40, 160))  # the smoke demo makes several hundred atomic writes
    harness.kill_at_write(args, k, FAKEBENCH_FAULT_LOG=str(writes))
    assert len(writes.read_text().splitlines()) == k  # it died at that write, mid-job
    first = json.loads((out / "demo.json").read_text())["stages"] if (out / "demo.json").exists() else {}
    assert (out / ".fakebench.lock").exists()  # a kill cannot release its lock

    status = harness.kill_after(args, float(rng.uniform(15, 45)))  # a second kill wherever the demo is then
    second = json.loads((out / "demo.json").read_text())["stages"]
    for name, done in first.items():  # what was done before the first kill was kept, not redone
        assert second[name] == done, name

    done = harness.fakebench(args[:-1], timeout=900)  # without -q: its warnings show
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads((out / "demo.json").read_text())
    assert set(state["stages"]) == set(STAGES)
    for name, finished in second.items():
        assert state["stages"][name] == finished, name
    assert "taking over the lock" in done.stderr or status == 0  # the killed run's lock (unless the 2nd finished)
    assert not (out / ".fakebench.lock").exists() and not harness.temporaries(out)
    assert state["stages"]["generator"]["step"] == 30

    index = pd.read_parquet(out / "index.parquet")
    assert set(index[index.split == "test"].label) == {0, 1}
    for fake in index[index.label == 1].itertuples():  # every fake is a whole video with its manifest
        assert json.loads(Path(fake.path).with_suffix(".json").read_text())["frames"] > 0
    metrics = json.loads((out / "bench" / "metrics.json").read_text())
    clean = [r for r in metrics["metrics"] if r["perturbation"] == "none" and r["unit"] == "video"]
    assert {r["detector"] for r in clean} == {"blink", "artifacts", "classifier", "classifier-graphics"}
    assert (out / "report.html").stat().st_size > 0
