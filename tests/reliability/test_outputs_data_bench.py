"""The `data` and `bench` commands write only where they may: a folder of someone else's is refused, one job per
folder, and a single output file that exists is replaced only if fakebench wrote it and nobody changed it since.

Every refusal is one line on stderr (exit 2) and leaves what was there byte for byte.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from fakebench import files, outputs
from fakebench.cli import main
from fakebench.datasets.extract import ExtractSettings, extract_index
from fakebench.datasets.index import load_index
from fakebench.errors import OutputError
from fakebench.media import write_video
from tests.benchmarks.conftest import simulated_predictions, write_run
from tests.benchmarks.test_runner import TINY, synthetic_set
from tests.conftest import synthetic_frames
from tests.datasets.conftest import build_folder, build_generated
from tests.datasets.test_extract import StubExtractor
from tests.reliability import harness

THESIS = "\\documentclass{article} years of work"


def thesis(folder: Path, *others: str) -> Path:
    """A folder of someone else's: thesis.tex and ``others`` (names of more files of theirs)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "thesis.tex").write_text(THESIS)
    for name in others:
        (folder / name).write_text(f"my own {name}\n")
    return folder


def untouched(folder: Path, *others: str) -> bool:
    return (sorted(p.name for p in folder.iterdir()) == sorted(["thesis.tex", *others])
            and (folder / "thesis.tex").read_text() == THESIS
            and all((folder / name).read_text() == f"my own {name}\n" for name in others))


def refused(capsys, *needles: str) -> str:
    """The one stderr line of a refusal, checked to hold ``needles``."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fakebench: error: "), err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


FOREIGN = "is not empty and fakebench did not write it (it holds "
NOT_OURS = "exists and fakebench did not write it; fakebench does not replace it"


@pytest.fixture
def index(tmp_path) -> Path:
    """A folder-layout index written by `data index` (so fakebench's own file)."""
    path = tmp_path / "index.parquet"
    assert main(["data", "index", "--layout", "folder", "--root", str(build_folder(tmp_path / "set")), "--out",
                 str(path), "-q"]) == 0
    return path


@pytest.fixture
def holder():
    """A live process of someone else's (its lock is refused; once it is gone, taken over)."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def lock_of(folder: Path, proc: subprocess.Popen) -> None:
    (folder / outputs.LOCK).write_text(json.dumps({"pid": proc.pid, "host": socket.gethostname(), "since": "now",
                                                   "command": "fakebench other job", "started": outputs._started(proc.pid)}))


# -- folders ---------------------------------------------------------------------------------------------
def test_data_extract_refuses_a_foreign_folder_and_a_second_writer_and_takes_over_a_dead_ones_lock(
        index, tmp_path, capsys, holder, caplog):
    df, out = load_index(index), tmp_path / "faces"
    extract_index(df.head(1), out, ExtractSettings(frames=2, size=8), extractor=StubExtractor(), progress=False)
    lock_of(out, holder)
    with pytest.raises(OutputError, match=f"is in use by process {holder.pid} since now"):
        extract_index(df, out, ExtractSettings(frames=2, size=8), extractor=StubExtractor(), progress=False)
    assert len((out / "status.jsonl").read_text().splitlines()) == 1  # the refused run wrote nothing
    holder.kill()
    holder.wait()
    with caplog.at_level(logging.WARNING, logger="fakebench"):
        table = extract_index(df, out, ExtractSettings(frames=2, size=8), extractor=StubExtractor(), progress=False)
    assert f"taking over the lock of process {holder.pid}, which is gone" in caplog.text
    assert len(table) == 4 and not (out / outputs.LOCK).exists()

    mine = thesis(tmp_path / "mine")
    assert main(["data", "extract", str(index), "--out", str(mine), "--frames", "2", "-q"]) == 2
    refused(capsys, str(mine), "thesis.tex", FOREIGN, "choose another --out")
    assert untouched(mine)


def bench_config(tmp_path: Path, **overrides) -> Path:
    if not (tmp_path / "data").exists():
        synthetic_set(tmp_path / "data")
    config = {"detectors": [TINY], "datasets": [{"name": "syn", "layout": "folder", "root": "data"}],
              "metrics": {"bootstrap": 20}, "seed": 3, **overrides}
    path = tmp_path / f"bench-{overrides.get('seed', 3)}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_bench_run_refuses_a_foreign_folder_even_with_overwrite_and_overwrite_clears_only_its_own(tmp_path, capsys,
                                                                                                  holder):
    mine = thesis(tmp_path / "mine", "config.yaml")  # a config.yaml of the user's own: fakebench must not replace it
    assert main(["bench", "run", "--config", str(bench_config(tmp_path)), "--out", str(mine), "--overwrite", "-q"]) == 2
    refused(capsys, "thesis.tex", FOREIGN, "choose another --out")
    assert untouched(mine, "config.yaml")

    run = tmp_path / "run"
    assert main(["bench", "run", "--config", str(bench_config(tmp_path)), "--out", str(run), "-q"]) == 0
    files.write_json(run / "throughput.json", {"detectors": []})  # a file of that run's, of that config
    other = bench_config(tmp_path, seed=4)
    capsys.readouterr()
    assert main(["bench", "run", "--config", str(other), "--out", str(run), "-q"]) == 2
    refused(capsys, "holds a run of another config", "--overwrite")
    lock_of(run, holder)
    assert main(["bench", "run", "--config", str(other), "--out", str(run), "--overwrite", "-q"]) == 2
    refused(capsys, f"is in use by process {holder.pid}", "wait for it to finish or choose another --out")
    (run / outputs.LOCK).unlink()
    assert main(["bench", "run", "--config", str(other), "--out", str(run), "--overwrite", "-q"]) == 0
    assert not (run / "throughput.json").exists()  # the other config's files went with it
    assert yaml.safe_load((run / "config.yaml").read_text())["seed"] == 4 and outputs.marked(run)
    assert not (run / outputs.LOCK).exists()


def test_bench_curve_refuses_a_foreign_folder(tmp_path, capsys):
    fakes, _, _ = build_generated(tmp_path / "gen")
    mine = thesis(tmp_path / "mine", "curve.png")
    assert main(["bench", "curve", "--detector", "blink", "--generated", str(fakes), "--out", str(mine), "-q"]) == 2
    refused(capsys, "thesis.tex", FOREIGN)
    assert untouched(mine, "curve.png")


def test_bench_throughput_refuses_a_foreign_folder_before_timing(tmp_path, capsys):
    video = write_video(tmp_path / "v.mp4", synthetic_frames(6, 48, 64), fps=10.0)
    mine = thesis(tmp_path / "mine", "throughput.json")
    assert main(["bench", "throughput", "--detector", "blink", str(video), "--out", str(mine), "--max-frames", "6",
                 "-q"]) == 2
    refused(capsys, "thesis.tex", FOREIGN)
    assert untouched(mine, "throughput.json")


# -- single files ----------------------------------------------------------------------------------------
def test_data_index_replaces_only_an_index_it_wrote_unchanged(tmp_path, capsys):
    root = build_folder(tmp_path / "set")
    args = ["data", "index", "--layout", "folder", "--root", str(root), "-q", "--out"]
    notes = tmp_path / "notes.parquet"
    notes.write_bytes(b"my own bytes")
    assert main([*args, str(notes)]) == 2
    refused(capsys, str(notes), NOT_OURS, "choose another --out")
    assert notes.read_bytes() == b"my own bytes"
    index = tmp_path / "index.parquet"
    assert main([*args, str(index)]) == 0 and main([*args, str(index)]) == 0  # its own file: replaced
    capsys.readouterr()
    os.utime(index, ns=(0, 0))  # someone touched it since
    assert main([*args, str(index)]) == 2
    refused(capsys, "it changed since fakebench wrote it")
    assert harness.temporaries(tmp_path) == []


def test_data_check_out_replaces_only_its_own_file(index, tmp_path, capsys):
    notes = tmp_path / "problems.csv"
    notes.write_text("my own problems\n")
    assert main(["data", "check", str(index), "--no-decode", "--out", str(notes), "-q"]) == 2
    refused(capsys, NOT_OURS)
    assert notes.read_text() == "my own problems\n"
    mine = tmp_path / "mine.csv"
    assert main(["data", "check", str(index), "--no-decode", "--out", str(mine), "-q"]) == 0
    assert main(["data", "check", str(index), "--no-decode", "--out", str(mine), "-q"]) == 0
    assert mine.read_text().startswith("problem,video_id,")


def test_data_split_replaces_index_only_when_fakebench_wrote_it(tmp_path, capsys):
    fakes, _, _ = build_generated(tmp_path / "gen")
    index = tmp_path / "index.parquet"
    assert main(["data", "index", "--layout", "generated", "--root", str(fakes), "--out", str(index), "-q"]) == 0
    split = ["--by", "segment", "--fractions", "0.75,0,0.25", "--gap", "0", "-q"]
    copy = tmp_path / "copy.parquet"
    shutil.copy(index, copy)  # the user's own copy: fakebench never wrote this file
    before = copy.read_bytes()
    assert main(["data", "split", str(copy), *split]) == 2
    refused(capsys, str(copy), NOT_OURS, "choose another --out")
    assert copy.read_bytes() == before
    assert main(["data", "split", str(copy), *split, "--out", str(tmp_path / "split.parquet")]) == 0
    assert main(["data", "split", str(index), *split]) == 0  # written by `data index`: replaced in place
    assert load_index(index).attrs["splits"][-1]["by"] == "segment"


def test_bench_report_replaces_only_its_own_files(tmp_path, capsys):
    run = write_run(tmp_path / "run", simulated_predictions(n_videos=40), n_boot=20)
    out = tmp_path / "report.html"
    (tmp_path / "report.md").write_text("my own report.md\n")  # the Markdown twin's name, someone else's file
    assert main(["bench", "report", str(run), "--out", str(out), "-q"]) == 2
    refused(capsys, "report.md", NOT_OURS)
    assert not out.exists() and (tmp_path / "report.md").read_text() == "my own report.md\n"
    assert main(["bench", "report", str(run), "--out", str(out), "--no-markdown", "-q"]) == 0  # the HTML alone: fine
    (tmp_path / "report.md").unlink()
    figures = thesis(tmp_path / "report_files")
    capsys.readouterr()
    assert main(["bench", "report", str(run), "--out", str(out), "-q"]) == 2
    refused(capsys, "thesis.tex", FOREIGN)
    assert untouched(figures)
    shutil.rmtree(figures)
    for _ in range(2):  # its own files: replaced
        assert main(["bench", "report", str(run), "--out", str(out), "-q"]) == 0
    assert (tmp_path / "report_files" / "figure1.png").read_bytes()[:4] == b"\x89PNG"
    assert harness.temporaries(tmp_path) == []


def test_bench_gate_out_and_write_baseline_replace_only_their_own_files(tmp_path, capsys):
    run = write_run(tmp_path / "run", simulated_predictions(n_videos=40), n_boot=20)
    baseline, notes = tmp_path / "baseline.json", tmp_path / "notes.json"
    notes.write_text('{"mine": true}\n')
    assert main(["bench", "gate", str(run), "--baseline", str(notes), "--write-baseline", "-q"]) == 2
    refused(capsys, str(notes), NOT_OURS, "choose another --baseline")
    assert main(["bench", "gate", str(run), "--baseline", str(baseline), "--write-baseline", "-q"]) == 0
    assert main(["bench", "gate", str(run), "--baseline", str(baseline), "--write-baseline", "-q"]) == 0
    capsys.readouterr()
    assert main(["bench", "gate", str(run), "--baseline", str(baseline), "--bootstrap", "50", "--out", str(notes),
                 "-q"]) == 2
    refused(capsys, str(notes), NOT_OURS)
    assert notes.read_text() == '{"mine": true}\n'
    checks = tmp_path / "checks.json"
    for _ in range(2):
        assert main(["bench", "gate", str(run), "--baseline", str(baseline), "--bootstrap", "50", "--out", str(checks),
                     "-q"]) == 0
    assert json.loads(checks.read_text())["passed"] is True
