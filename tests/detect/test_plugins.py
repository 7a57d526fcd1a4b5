"""Detectors from outside fakebench: the example plug-in through entry points, file and module paths,
and broken plug-ins that get one line each and never stop the built-in detectors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from fakebench.cli import main
from fakebench.detect import factory
from fakebench.detect.contract import run_contract
from fakebench.errors import ConfigError, PluginError

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "plugin-detector"
SOURCE = EXAMPLE / "src" / "fakebench_spectrum" / "detector.py"


def fake_install(site: Path, monkeypatch, dist: str, entry_points: dict[str, str], version: str = "0.1.0") -> None:
    """What `pip install` leaves for importlib.metadata: a dist-info folder with entry_points.txt, on sys.path."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[fakebench.detectors]\n{lines}")
    monkeypatch.syspath_prepend(str(site))


@pytest.fixture
def spectrum_installed(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    fake_install(tmp_path / "site", monkeypatch, "fakebench-spectrum",
                 {"spectrum": "fakebench_spectrum.detector:SpectrumDetector"})
    monkeypatch.setattr(factory, "_LOADED", {})


def test_an_installed_plugin_is_listed_with_where_it_comes_from(spectrum_installed, capsys):
    assert main(["detect", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["spectrum"]["origin"].endswith("distribution fakebench-spectrum 0.1.0")
    assert rows["spectrum"]["trains_on"] == "real+fake"
    assert rows["blink"]["origin"] == "built-in"


def test_the_example_plugin_meets_the_contract(spectrum_installed):
    results = run_contract("spectrum", small=True)
    assert all(r.ok for r in results), [r for r in results if not r.ok]


def test_detect_check_prints_a_line_per_check_and_fails_on_a_broken_contract(tmp_path, capsys):
    assert main(["detect", "check", f"{SOURCE}:SpectrumDetector", "--small"]) == 0
    out = capsys.readouterr().out
    assert out.count("pass  ") == 8 and "FAIL" not in out
    bad = tmp_path / "wild.py"
    bad.write_text("import numpy as np\nfrom fakebench.detect import Detector\n"
                   "class Wild(Detector):\n    name = 'wild'\n"
                   "    def score_frames(self, faces):\n        return np.full(len(getattr(faces, 'crops', faces)), 7.0)\n")
    assert main(["detect", "check", f"{bad}:Wild"]) == 1
    assert "FAIL  probability" in capsys.readouterr().out


def test_module_and_file_paths_name_the_same_detector(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE / "src"))
    by_module = factory.create("fakebench_spectrum.detector:SpectrumDetector")
    by_file = factory.create(f"{SOURCE}:SpectrumDetector", config={"bins": 16})
    assert by_module.name == by_file.name == "spectrum" and by_file.config.bins == 16
    assert factory.resolve(f"{SOURCE}:SpectrumDetector").origin.startswith("file ")
    with pytest.raises(ConfigError, match=r"unknown option 'binz' \(did you mean 'bins'\?\)"):
        factory.create(f"{SOURCE}:SpectrumDetector", config={"binz": 16})


@pytest.mark.parametrize("spec, match", [
    ("nosuchpkg.mod:Thing", r"cannot import nosuchpkg.mod: ModuleNotFoundError"),
    ("numpy:ndarray", r"numpy:ndarray is class ndarray, not a subclass of fakebench.detect.Detector"),
    ("numpy:nothing_here", r"numpy has no attribute 'nothing_here'"),
    ("missing/file.py:Cls", r"no such file missing/file.py"),
    ("json:dumps", r"json:dumps is a function, not a subclass"),
])
def test_a_wrong_path_is_one_line(spec, match):
    with pytest.raises(PluginError, match=match) as err:
        factory.create(spec)
    assert "\n" not in str(err.value)


def test_broken_plugins_get_one_line_each_and_built_ins_still_work(tmp_path, monkeypatch, capsys):
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "halfbaked.py").write_text("import not_installed_anywhere\n")
    (tmp_path / "mods" / "notadetector.py").write_text("class Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path / "mods"))
    fake_install(tmp_path / "site", monkeypatch, "fakebench-broken", {
        "halfbaked": "halfbaked:Detector", "thing": "notadetector:Thing", "blink": "notadetector:Thing"})
    monkeypatch.setattr(factory, "_LOADED", {})
    assert main(["detect", "list"]) == 0
    captured = capsys.readouterr()
    listed = captured.out
    assert "blink" in listed and "artifacts" in listed and "halfbaked" not in listed
    lines = captured.err.strip().splitlines()
    assert len(lines) == 3 and all("distribution fakebench-broken 0.1.0" in line for line in lines)
    assert any("'halfbaked'" in line and "ModuleNotFoundError: No module named 'not_installed_anywhere'" in line
               for line in lines)
    assert any("'thing'" in line and "not a subclass of fakebench.detect.Detector" in line for line in lines)
    assert any("'blink'" in line and "taken by the built-in detector" in line for line in lines)
    with pytest.raises(PluginError, match=r"plug-in detector 'halfbaked' \(entry point halfbaked = halfbaked:Detector, "
                                          r"distribution fakebench-broken 0.1.0\): cannot import"):
        factory.create("halfbaked")
    assert factory.create("blink").name == "blink"  # the built-in, not the plug-in that took its name


@pytest.mark.media
def test_the_plugin_is_trained_scored_and_benchmarked_without_touching_fakebench(spectrum_installed, tmp_path, capsys):
    """Clips of sample A as reals; the same clips shrunk to a third and grown back as fakes (a pasted low-resolution
    face's spectrum). Trained on two pairs, benchmarked on two others through a bench YAML."""
    import cv2

    from fakebench.media import read_video, write_video
    from tests.conftest import sample

    video = read_video(sample("A")[0], indices=range(0, 1200, 6))
    frames = video.frames
    for split, starts in (("train", (0, 50)), ("test", (100, 150))):
        for k, start in enumerate(starts):
            clip = frames[start:start + 40]
            small = [cv2.resize(f, (f.shape[1] // 3, f.shape[0] // 3), interpolation=cv2.INTER_AREA) for f in clip]
            soft = np.stack([cv2.resize(s, (f.shape[1], f.shape[0]), interpolation=cv2.INTER_LINEAR)
                             for s, f in zip(small, clip)])
            write_video(tmp_path / split / "real" / f"real{k}.mp4", clip, fps=4.0)
            write_video(tmp_path / split / "fake" / f"soft{k}.mp4", soft, fps=4.0)
    model = tmp_path / "spectrum"
    assert main(["detect", "train", "--detector", "spectrum", "--real", str(tmp_path / "train" / "real"), "--fake",
                 str(tmp_path / "train" / "fake"), "--frames", "8", "--out", str(model), "-q"]) == 0
    assert (model / "best.pt").is_file()
    capsys.readouterr()
    assert main(["detect", "score", "--detector", "spectrum", "--weights", str(model), "--json", "-q",
                 str(tmp_path / "test" / "fake" / "soft0.mp4"), str(tmp_path / "test" / "real" / "real0.mp4")]) == 0
    fake_row, real_row = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert fake_row["score"] > real_row["score"] and len(fake_row["evidence"]["frame_scores"]) == 8
    config = tmp_path / "bench.yaml"
    config.write_text(yaml.safe_dump({"detectors": [{"name": "spectrum", "weights": "spectrum"}],
                                      "datasets": [{"name": "soft", "layout": "folder", "root": "test"}],
                                      "metrics": {"bootstrap": 50}}))
    assert main(["bench", "run", "--config", str(config), "--out", str(tmp_path / "run"), "-q"]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    clean = next(r for r in metrics["metrics"] if r["unit"] == "video" and r["perturbation"] == "none")
    assert clean["detector"] == "spectrum" and (clean["n_real"], clean["n_fake"]) == (2, 2)
    assert clean["auc"] == 1.0
