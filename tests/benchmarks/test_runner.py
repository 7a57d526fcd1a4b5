"""bench run: the run folder, the cache, and an interrupted run that resumes to the same tables."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from fakebench import fingerprint
from fakebench.benchmarks import runner
from fakebench.benchmarks.runner import COLUMNS, load_bench_config
from fakebench.cli import main
from fakebench.errors import ConfigError, FakebenchError
from fakebench.media import write_video
from tests.conftest import sample, synthetic_frames

TINY = {"name": "classifier", "label": "tiny", "config": {"backbone": "test_efficientnet", "input_size": 32, "frames": 4}}


def synthetic_set(root: Path) -> Path:
    """real/ and fake/ with two small face-less clips each (cheap: MTCNN finds nothing, scores are 0.5/NaN)."""
    for label in ("real", "fake"):
        for k in range(2):
            seed = k + (10 if label == "fake" else 0)
            write_video(root / label / f"{label}{k}.mp4", synthetic_frames(8, 48, 64, seed=seed), fps=10.0)
    return root


def write_config(folder: Path, **overrides) -> Path:
    config = {"detectors": [TINY], "datasets": [{"name": "syn", "layout": "folder", "root": "data"}],
              "perturbations": [{"name": "noise", "levels": [1]}, {"name": "h264", "levels": [2]}],
              "metrics": {"bootstrap": 50}, "seed": 3, **overrides}
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_config_rejects_typos_and_impossible_entries(tmp_path):
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump({"detectors": [{"name": "blink"}], "datasets": [{"index": "x.parquet"}],
                                    "perturbation": []}))
    with pytest.raises(ConfigError, match="did you mean 'perturbations'"):
        load_bench_config(path)
    for bad, match in [({"datasets": [{"index": "a.parquet", "layout": "folder"}]}, "exactly one of index"),
                       ({"perturbations": [{"name": "jepg"}]}, "did you mean 'jpeg'"),
                       ({"perturbations": [{"name": "blur", "levels": [0]}]}, "level 0"),
                       ({"detectors": [{"name": "blink"}, {"name": "blink"}]}, "listed twice"),
                       ({"perturb_on": "faces"}, "frames or crops"),
                       ({"detectors": [{"name": "blnk"}]}, r"unknown detector 'blnk' \(did you mean 'blink'\?\)"),
                       ({"detectors": [{"name": "classifier", "config": {"input_sise": 64}}]},
                        r"detectors\[0\] \(classifier\) config: unknown option 'input_sise' \(did you mean 'input_size'\?\)")]:
        config = {"detectors": [{"name": "blink"}], "datasets": [{"index": "x.parquet"}], **bad}
        path.write_text(yaml.safe_dump(config))
        with pytest.raises(ConfigError, match=match):
            load_bench_config(path)
    path.write_text(yaml.safe_dump({"detectors": [{"name": "blink"}], "datasets": [{"index": "sub/x.parquet"}]}))
    assert load_bench_config(path).datasets[0].index == str((tmp_path / "sub" / "x.parquet").resolve())


def run_cli(config: Path, out: Path) -> None:
    assert main(["bench", "run", "--config", str(config), "--out", str(out), "-q"]) == 0


def read_tables(out: Path) -> tuple[pd.DataFrame, list[dict]]:
    return pd.read_parquet(out / "predictions.parquet"), json.loads((out / "metrics.json").read_text())["metrics"]


def test_an_interrupted_run_resumes_to_the_tables_of_an_uninterrupted_one(tmp_path, monkeypatch):
    synthetic_set(tmp_path / "data")
    config = write_config(tmp_path)
    monkeypatch.setenv("FAKEBENCH_CACHE", str(tmp_path / "cache-a"))
    run_cli(config, tmp_path / "whole")
    whole, whole_metrics = read_tables(tmp_path / "whole")

    monkeypatch.setenv("FAKEBENCH_CACHE", str(tmp_path / "cache-b"))
    original = runner.Scorer.score
    calls = {"n": 0}

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(runner.Scorer, "score", interrupted)
    assert main(["bench", "run", "--config", str(config), "--out", str(tmp_path / "resumed"), "-q"]) == 130
    assert not (tmp_path / "resumed" / "predictions.parquet").exists()
    assert len([p for p in (tmp_path / "cache-b" / "bench").rglob("*.json") if p.name != "fingerprints.json"]) == 4
    monkeypatch.setattr(runner.Scorer, "score", original)
    computed = {"n": 0}

    def counting(self, *args, **kwargs):
        computed["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(runner.Scorer, "score", counting)
    run_cli(config, tmp_path / "resumed")
    assert computed["n"] == 4 * 3 - 4  # only the units the interruption left
    resumed, resumed_metrics = read_tables(tmp_path / "resumed")
    pd.testing.assert_frame_equal(whole, resumed)
    assert json.dumps(whole_metrics) == json.dumps(resumed_metrics)


def test_the_run_folder_holds_what_style_asks_for(tmp_path, monkeypatch):
    synthetic_set(tmp_path / "data")
    config = write_config(tmp_path, perturbations=[])
    out = tmp_path / "run"
    run_cli(config, out)
    assert {p.name for p in out.iterdir()} >= {"config.yaml", "env.json", "videos.parquet", "predictions.parquet",
                                              "metrics.json", "metrics.csv"}
    predictions, _ = read_tables(out)
    assert tuple(predictions.columns) == COLUMNS
    videos = pd.read_parquet(out / "videos.parquet")
    assert set(predictions["video_id"]) == set(videos["video_id"])  # ids from the index, never from paths
    assert (predictions[predictions["frame"] == -1]["score"] == 0.5).all()  # no face anywhere: undecided
    assert predictions[predictions["frame"] >= 0]["score"].isna().all()
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["schema_version"] == runner.SCHEMA_VERSION and doc["datasets"]["syn"]["split"] == "all"
    assert doc["datasets"]["syn"]["split_by"] == "none" and doc["aggregation"] == "mean"
    env = json.loads((out / "env.json").read_text())
    assert env["seed"] == 3 and env["device"] == "cpu" and "packages" in env and env["finished"]
    again = load_bench_config(out / "config.yaml")  # the saved config runs again as is
    assert again.seed == 3 and again.datasets[0].root == str((tmp_path / "data").resolve())
    other = write_config(tmp_path, perturbations=[], seed=4)
    with pytest.raises(FakebenchError, match="another config"):
        runner.run(load_bench_config(other), out, progress=False)


def test_a_detector_can_be_kept_out_of_the_perturbation_sweep(tmp_path):
    synthetic_set(tmp_path / "data")
    clean_only = {**TINY, "label": "clean-only", "perturb": False}
    config = write_config(tmp_path, detectors=[TINY, clean_only])
    run_cli(config, tmp_path / "run")
    predictions, _ = read_tables(tmp_path / "run")
    kinds = predictions.groupby("detector")["perturbation"].unique()
    assert set(kinds["tiny"]) == {"none", "noise", "h264"} and set(kinds["clean-only"]) == {"none"}


def bench(config: Path, out: Path, caplog, **kwargs) -> tuple[dict, str]:
    """One run: (its work per detector, the INFO line of each detector's cache counts)."""
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="fakebench.benchmarks"):
        work = runner.run(load_bench_config(config), out, device="cpu", progress=False, **kwargs)["work"]
    said = "\n".join(r.getMessage() for r in caplog.records if "from the cache" in r.getMessage())
    return work, said


def test_a_code_change_scores_again_and_the_run_says_which_part(tmp_path, monkeypatch, caplog):
    synthetic_set(tmp_path / "data")
    config = write_config(tmp_path, perturbations=[{"name": "noise", "levels": [1]}])  # 4 videos x 2 = 8 units
    monkeypatch.setenv("FAKEBENCH_CACHE", str(tmp_path / "cache"))
    work, said = bench(config, tmp_path / "a", caplog)
    assert work["tiny"]["computed"] == 8 and work["tiny"]["why"] == {"new": 8}
    assert "tiny: 8 units: 0 from the cache, 8 computed (8 new)" in said
    work, said = bench(config, tmp_path / "b", caplog)
    assert (work["tiny"]["cached"], work["tiny"]["computed"], work["tiny"]["why"]) == (8, 0, {})
    assert "tiny: 8 units: 8 from the cache, 0 computed" in said

    monkeypatch.setattr(fingerprint, "face_pipeline_code", lambda: "another face pipeline")
    work, said = bench(config, tmp_path / "c", caplog)
    assert work["tiny"]["why"] == {"code changed": 8} and work["tiny"]["code_changed"] == ["face pipeline"]
    assert "tiny: 8 units: 0 from the cache, 8 computed (8 code changed: face pipeline)" in said
    assert json.loads((tmp_path / "c" / "metrics.json").read_text())["work"]["tiny"]["why"] == {"code changed": 8}

    monkeypatch.setattr(fingerprint, "perturb_code", lambda: "another perturb.py")  # the clean units do not use it
    work, said = bench(config, tmp_path / "d", caplog)
    assert "tiny: 8 units: 4 from the cache, 4 computed (4 code changed: perturbation code)" in said

    monkeypatch.undo()  # the code of the first run again: its files are still there
    monkeypatch.setenv("FAKEBENCH_CACHE", str(tmp_path / "cache"))
    work, said = bench(config, tmp_path / "e", caplog)
    assert work["tiny"]["cached"] == 8
    work, said = bench(config, tmp_path / "f", caplog, fresh=True)
    assert work["tiny"]["why"] == {"--fresh": 8} and "(8 --fresh)" in said


PLUGIN = """import numpy as np
from fakebench.detect import Detector, FaceRequest

class {name}(Detector):
    name = {label!r}
    code_version = {version!r}
    request = FaceRequest(size=32, count=4, landmarks=False)

    def score_frames(self, faces):
        return np.full(len(getattr(faces, "crops", faces)), 0.5)  # {edit}
"""


def write_plugin(folder: Path, name: str, version: str | None, edit: str, monkeypatch) -> None:
    path = folder / f"{name.lower()}.py"
    path.write_text(PLUGIN.format(name=name, label=name.lower(), version=version, edit=edit))
    for module in [m for m in sys.modules if m.startswith(f"fakebench_plugin_{path.stem}_")]:
        monkeypatch.delitem(sys.modules, module)  # the next run imports the edited file
    fingerprint._source_sha256.cache_clear()  # and hashes it again (a new process would)
    fingerprint.detector_code.cache_clear()


def test_a_plugin_with_a_code_version_keeps_its_cache_when_its_file_changes(tmp_path, monkeypatch, caplog):
    synthetic_set(tmp_path / "data")
    monkeypatch.setenv("FAKEBENCH_CACHE", str(tmp_path / "cache"))
    config = write_config(tmp_path, perturbations=[], detectors=[{"name": "versioned.py:Versioned"},
                                                                 {"name": "plain.py:Plain"}])
    write_plugin(tmp_path, "Versioned", "1", "first", monkeypatch)
    write_plugin(tmp_path, "Plain", None, "first", monkeypatch)
    work, _ = bench(config, tmp_path / "a", caplog)
    assert work["versioned"]["why"] == work["plain"]["why"] == {"new": 4}

    write_plugin(tmp_path, "Versioned", "1", "edited", monkeypatch)
    write_plugin(tmp_path, "Plain", None, "edited", monkeypatch)
    work, said = bench(config, tmp_path / "b", caplog)
    assert work["versioned"]["cached"] == 4 and work["versioned"]["why"] == {}  # code_version unchanged: same scores
    assert work["plain"]["why"] == {"code changed": 4} and work["plain"]["code_changed"] == ["detector code"]
    assert "plain: 4 units: 0 from the cache, 4 computed (4 code changed: detector code)" in said

    write_plugin(tmp_path, "Versioned", "2", "edited", monkeypatch)
    work, _ = bench(config, tmp_path / "c", caplog)
    assert work["versioned"]["why"] == {"code changed": 4} and work["plain"]["cached"] == 4

    units = [p for p in (tmp_path / "cache" / "bench").rglob("*.json") if p.name != "fingerprints.json"]
    latest = max(units, key=lambda p: p.stat().st_mtime_ns)
    latest.unlink()  # scored under this very code, then lost
    work, said = bench(config, tmp_path / "d", caplog)
    assert {label: w["why"] for label, w in work.items()} == {"versioned": {"missing": 1}, "plain": {}}
    assert "versioned: 4 units: 3 from the cache, 1 computed (1 missing)" in said


@pytest.mark.media
def test_real_faces_through_every_path(tmp_path, monkeypatch):
    """Real sample faces, perturbed before detection and on crops: frames scored, resumable, deterministic."""
    d, e = sample("D")[0], sample("E")[0]
    (tmp_path / "data" / "real").mkdir(parents=True)
    (tmp_path / "data" / "fake").mkdir(parents=True)
    (tmp_path / "data" / "real" / "d.mp4").symlink_to(d)
    (tmp_path / "data" / "fake" / "e.mp4").symlink_to(e)
    perturbations = [{"name": "blur", "levels": [5]}, {"name": "h264", "levels": [5]}]
    frames_cfg = write_config(tmp_path, perturbations=perturbations)
    out = tmp_path / "frames"
    run_cli(frames_cfg, out)
    pred, metrics = read_tables(out)
    frames = pred[pred["frame"] >= 0]
    scored = frames.groupby(["video_id", "perturbation"])["score"].apply(lambda s: s.notna().sum())
    assert (scored.xs("none", level="perturbation") >= 3).all()  # faces found in the clean clips
    clean = frames[frames["perturbation"] == "none"].set_index(["video_id", "frame"])["score"]
    blurred = frames[frames["perturbation"] == "blur"].set_index(["video_id", "frame"])["score"]
    common = clean.index.intersection(blurred.index)
    assert (clean.loc[common] - blurred.loc[common]).abs().max() > 1e-4  # the detector saw the perturbation
    assert {r["unit"] for r in metrics} == {"video", "frame"}
    monkeypatch.setattr(runner.Scorer, "score", lambda *a, **k: pytest.fail("should come from the cache"))
    run_cli(frames_cfg, tmp_path / "again")
    pd.testing.assert_frame_equal(pred, pd.read_parquet(tmp_path / "again" / "predictions.parquet"))
    monkeypatch.undo()
    crops_cfg = write_config(tmp_path, perturbations=perturbations, perturb_on="crops")
    run_cli(crops_cfg, tmp_path / "crops")
    crops, _ = read_tables(tmp_path / "crops")
    on_crops = crops[(crops["frame"] >= 0) & (crops["perturbation"] == "none")]
    pd.testing.assert_frame_equal(on_crops.reset_index(drop=True),
                                  frames[frames["perturbation"] == "none"].reset_index(drop=True))
    assert set(crops[crops["frame"] >= 0]["frame"]) == set(frames[frames["perturbation"] == "none"]["frame"])


# -- damaged files and a full disk ------------------------------------------------------------------------

def units_in(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "bench").glob("*/*/*.json") if not p.name.startswith("."))


def test_damaged_cached_units_are_scored_again_with_one_warning(tmp_path, monkeypatch, caplog):
    synthetic_set(tmp_path / "data")
    config = write_config(tmp_path, perturbations=[])  # 4 units
    monkeypatch.setenv("FAKEBENCH_CACHE", str(tmp_path / "cache"))
    bench(config, tmp_path / "a", caplog)
    for unit in units_in(tmp_path / "cache")[:2]:
        unit.write_text(unit.read_text()[:40])  # cut short by something else
    with caplog.at_level(logging.WARNING, logger="fakebench"):
        work, said = bench(config, tmp_path / "b", caplog)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and "damaged" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("tiny: 2 cached unit(s) were damaged (cut short by something "
                                                         "else?) and were scored again (the first: ")
    assert "tiny: 4 units: 2 from the cache, 2 computed (2 missing)" in said
    pd.testing.assert_frame_equal(read_tables(tmp_path / "a")[0], read_tables(tmp_path / "b")[0])


def test_a_damaged_config_yaml_is_written_again_not_taken_for_another_config(tmp_path, caplog):
    synthetic_set(tmp_path / "data")
    config = write_config(tmp_path, perturbations=[])
    out = tmp_path / "run"
    bench(config, out, caplog)
    text = (out / "config.yaml").read_text()
    (out / "config.yaml").write_text(text[: len(text) // 2])
    with caplog.at_level(logging.WARNING, logger="fakebench"):
        bench(config, out, caplog)
    assert f"{out / 'config.yaml'} is damaged (cut short by something else?); writing it again" in caplog.text
    assert (out / "config.yaml").read_text() == text


@pytest.mark.parametrize("name", ["config.yaml", "predictions.parquet", "metrics.json"])
def test_a_full_disk_is_one_line_and_the_previous_run_stays(tmp_path, monkeypatch, capsys, name):
    import errno

    from fakebench import files, outputs
    from tests.reliability.harness import digest, temporaries

    synthetic_set(tmp_path / "data")
    config = write_config(tmp_path, perturbations=[])
    out = tmp_path / "run"
    run_cli(config, out)
    before = digest(out)
    real_fault = files._fault

    def full(final):
        if final.name == name:
            raise OSError(errno.ENOSPC, "No space left on device", str(final))
        real_fault(final)

    monkeypatch.setattr(files, "_fault", full)
    capsys.readouterr()
    assert main(["bench", "run", "--config", str(config), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fakebench: error: {out / name}: cannot write (ENOSPC): no space")
    after = digest(out)
    assert after[name] == before[name]  # the previous file, whole
    assert {k: v for k, v in after.items() if k != "env.json"} == {k: v for k, v in before.items() if k != "env.json"}
    assert temporaries(out) == [] and not (out / outputs.LOCK).exists()
    monkeypatch.setattr(files, "_fault", real_fault)
    run_cli(config, out)  # room again: the same command completes
    assert digest(out)["predictions.parquet"] == before["predictions.parquet"]


def test_a_damaged_throughput_file_loses_its_entries_with_a_warning(tmp_path, caplog):
    from fakebench.benchmarks import throughput

    throughput.write([{"detector": "a"}], tmp_path, "cpu")
    path = tmp_path / "throughput.json"
    path.write_text(path.read_text()[:30])
    with caplog.at_level(logging.WARNING, logger="fakebench"):
        throughput.write([{"detector": "b"}], tmp_path, "cpu")
    assert "throughput.json is damaged (cut short by something else?); its earlier entries are lost" in caplog.text
    assert [d["detector"] for d in json.loads(path.read_text())["detectors"]] == ["b"]


def test_a_full_disk_at_the_curve_plot_is_one_line_and_the_previous_plot_stays(tmp_path, monkeypatch, capsys):
    import errno

    from fakebench import files
    from tests.datasets.conftest import build_generated
    from tests.reliability.harness import temporaries

    fakes, _, _ = build_generated(tmp_path)
    config = tmp_path / "detectors.yaml"
    config.write_text(yaml.safe_dump({"detectors": [{**TINY, "config": {**TINY["config"], "frames": 2}}],
                                      "datasets": [{"layout": "generated", "root": str(fakes)}]}))
    args = ["bench", "curve", "--config", str(config), "--generated", str(fakes), "--out", str(tmp_path / "curve"),
            "--bootstrap", "20", "-q"]
    assert main(args) == 0
    plot = tmp_path / "curve" / "curve.png"
    before = plot.read_bytes()
    real_fault = files._fault

    def full(final):
        if final.name == "curve.png":
            raise OSError(errno.ENOSPC, "No space left on device", str(final))
        real_fault(final)

    monkeypatch.setattr(files, "_fault", full)
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"fakebench: error: {plot}: cannot write (ENOSPC)")
    assert plot.read_bytes() == before and temporaries(tmp_path / "curve") == []
