"""Training on tiny real crops: the loss goes down, a resumed run takes the same next step, bad input is refused."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from fakebench.cli import main
from fakebench.errors import CheckpointError, ConfigError, NoFaceError
from fakebench.generate.data import DataConfig, split_range
from fakebench.generate.model import ModelConfig
from fakebench.generate.train import Trainer, load_checkpoint, load_model
from tests.generate.conftest import tiny_config

pytestmark = pytest.mark.media


def test_a_few_steps_on_real_crops_lower_the_loss(tmp_path, tiny_sources):
    trainer = Trainer(tiny_config(), tmp_path / "run", device="cpu", progress=False).setup(tiny_sources)
    faces = trainer.faces["a"]
    assert faces.crops.shape[1:] == (128, 128, 3) and faces.crops.dtype == np.uint8
    assert len(faces.train_idx) >= 8 and len(faces.held_out_idx) >= 1
    assert faces.frames[faces.held_out].min() >= 90 > faces.frames[~faces.held_out].max()
    before = trainer.validate()
    losses = [trainer.train_step()["loss"] for _ in range(25)]
    after = trainer.validate()
    assert np.mean(losses[-5:]) < np.mean(losses[:5])
    for name in ("a", "b"):
        assert after[f"val_loss_{name}"] < before[f"val_loss_{name}"]


def test_a_killed_run_resumes_with_the_same_next_step(tmp_path, tiny_sources):
    run = tmp_path / "run"
    # warp threads prefetch the next batch; the resumed run has none: the data stream must not depend on that
    first = Trainer(tiny_config(), run, device="cpu", progress=False, workers=2).setup(tiny_sources)
    result = first.fit(steps=7)  # checkpoints at step 5 and at the end (7)
    assert result.step == 7 and (run / "checkpoint.pt").exists() and (run / "preview.png").exists()
    expected = [first.train_step()["loss"] for _ in range(2)]  # steps 8, 9: never saved, as if killed here
    resumed = Trainer(tiny_config(), run, device="cpu", progress=False).setup()  # inputs from data.json
    assert resumed.step_count == 7
    assert [resumed.train_step()["loss"] for _ in range(2)] == expected
    for p_first, p_resumed in zip(first.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p_first, p_resumed)
    first.close()
    log = (run / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,seconds,faces_per_s,loss,loss_a,loss_b,val_loss_a")
    assert [int(r.split(",")[0]) for r in log[1:]] == sorted(int(r.split(",")[0]) for r in log[1:])


def test_a_run_refuses_another_architecture_or_inputs(tmp_path, tiny_run, tiny_sources):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    wider = tiny_config(model=ModelConfig(width=16, latent=32))
    with pytest.raises(ConfigError, match=r"other settings: model.width: 8 -> 16"):
        Trainer(wider, run, device="cpu", progress=False).setup()
    with pytest.raises(CheckpointError, match=r"another architecture \(width: 8 -> 16\)"):
        load_checkpoint(run / "checkpoint.pt", expect=wider.model)
    other = {"a": tiny_sources["a"], "b": tiny_sources["a"]}
    with pytest.raises(ConfigError, match="trained on other inputs"):
        Trainer(tiny_config(), run, device="cpu", progress=False).setup(other)


def test_truncated_and_foreign_checkpoints_are_refused(tmp_path, tiny_run):
    data = (tiny_run / "checkpoint.pt").read_bytes()
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_model(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    with pytest.raises(CheckpointError, match="expected a fakebench generator checkpoint"):
        load_model(foreign)
    # a checkpoint whose config says one width but whose weights are of another
    ckpt = torch.load(tiny_run / "checkpoint.pt", weights_only=True)
    ckpt["config"]["model"]["width"] = 16
    mixed = tmp_path / "mixed.pt"
    torch.save(ckpt, mixed)
    with pytest.raises(CheckpointError, match="weights do not fit"):
        load_model(mixed)


def test_too_few_faces_says_how_many_it_found_and_needs(tmp_path, tiny_sources):
    config = tiny_config(data=DataConfig(stride=5, min_faces=500, gap=0.5))
    with pytest.raises(NoFaceError, match=r"identity 'a': found 1\d training faces .* need at least 500"):
        Trainer(config, tmp_path / "run", device="cpu", progress=False).setup(tiny_sources)


def test_cli_resume_with_another_size_is_one_line_and_exit_2(tmp_path, tiny_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert main(["generate", "train", "--out", str(run), "--size", "128", "--steps", "11", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "model.size: 64 -> 128" in err[0]


def test_cli_resumes_a_run_for_more_steps(tmp_path, tiny_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    assert main(["generate", "train", "--out", str(run), "--steps", "12", "-q", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"step": 12' in out and '"stopped": "steps"' in out


def test_held_out_split_is_a_frame_range_with_a_gap():
    assert split_range(0, 4800, 24.0, 0.25, 2.0) == ([0, 3552], [3600, 4800])
    assert split_range(100, 200, 25.0, 0.0, 2.0) == ([100, 200], [200, 200])


def test_a_folder_of_face_images_is_an_input(tmp_path):
    from fakebench.faces import FaceExtractor
    from fakebench.generate.data import load_faces
    from fakebench.media import write_image
    from tests.conftest import sample

    track = FaceExtractor(size=128, device="cpu").extract(sample("A")[0], every=5, stop=120, progress=False)  # cached
    folder = tmp_path / "faces"
    for i, crop in enumerate(track.face_crops()[0][:8]):
        write_image(folder / f"{i:03d}.png", crop)
    (folder / "notes.txt").write_text("not an image")
    faces = load_faces("a", [folder], DataConfig(min_faces=4, held_out=0.25), 128, FaceExtractor(size=128, device="cpu"),
                       progress=False)
    assert len(faces.train_idx) == 6 and len(faces.held_out_idx) == 2  # the last quarter of the files, by name
    assert faces.records[0]["kind"] == "images" and faces.records[0]["files"][0] == "000.png"


def test_cosine_schedule_warms_up_then_anneals_to_the_end_of_the_budget(tmp_path, tiny_sources):
    config = tiny_config(schedule="cosine", warmup=4, lr=1e-3, lr_final=0.1)
    trainer = Trainer(config, tmp_path / "run", device="cpu", progress=False).setup(tiny_sources)
    trainer._horizon = ("steps", 100.0)
    lrs = [trainer.lr_at(s) for s in range(101)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[0] < lrs[1] < lrs[2] < lrs[3] < lrs[4]
    assert max(lrs) == pytest.approx(1e-3, rel=0.05) and lrs[100] == pytest.approx(1e-4)
    assert lrs[50] == pytest.approx(0.55e-3, rel=0.01)  # half way: half way between lr and lr_final
    assert all(a >= b for a, b in zip(lrs[5:], lrs[6:]))  # no rise after the warm-up
    constant = Trainer(tiny_config(lr=1e-3, schedule="constant", warmup=0), tmp_path / "run2", device="cpu",
                       progress=False).setup(tiny_sources)
    assert constant.lr_at(0) == constant.lr_at(999) == 1e-3


def test_snapshots_at_budget_fractions_and_a_gan_run_resumes_with_the_same_next_step(tmp_path, tiny_sources):
    config = tiny_config(background=0.1, adversarial=0.1, adversarial_from=0.2, snapshots=(0.3, 0.6), save_every=100)
    run = tmp_path / "run"
    first = Trainer(config, run, device="cpu", progress=False).setup(tiny_sources)
    first.fit(steps=10)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-000003.pt", "step-000006.pt"]
    assert first.last_d_loss > 0  # the discriminators trained
    first._horizon = resumed_horizon = ("steps", 20.0)  # two more steps of a 20-step budget: adversarial on
    expected = [first.train_step()["loss"] for _ in range(2)]
    resumed = Trainer(config, run, device="cpu", progress=False).setup()
    resumed._horizon = resumed_horizon
    assert [resumed.train_step()["loss"] for _ in range(2)] == expected  # discriminators and their Adam restored


def test_the_grid_warp_stops_at_warp_until(tmp_path, tiny_sources):
    trainer = Trainer(tiny_config(warp_until=0.5), tmp_path / "run", device="cpu", progress=False).setup(tiny_sources)
    trainer._horizon = ("steps", 10.0)
    trainer.step_count = 4
    assert all(job[3].grid_noise == trainer.config.warp.grid_noise > 0 for job in trainer._draw()[1])
    trainer.step_count = 5
    assert all(job[3].grid_noise == 0 for job in trainer._draw()[1])


def test_cli_bad_training_options_are_one_line(tmp_path, tiny_sources, capsys):
    a, b = tiny_sources["a"][0].path, tiny_sources["b"][0].path
    for flags, words in ((["--background", "1.5"], "background, lr_final, warp_until and adversarial_from are fractions"),
                         (["--snapshots", "0.5,1.0"], "snapshots are fractions of the budget in (0, 1)"),
                         (["--adversarial", "-1"], "adversarial >= 0"),
                         (["--warp-until", "2"], "warp_until=2.0"),
                         (["--warmup", "-5"], "warmup=-5"),
                         (["--perceptual", "-0.1"], "perceptual=-0.1"),
                         (["--lr-final", "1.5"], "lr_final=1.5")):
        assert main(["generate", "train", "--a", a, "--b", b, "--out", str(tmp_path / "run"), "--steps", "1", "-q",
                     *flags]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    with pytest.raises(SystemExit):
        main(["generate", "train", "--a", a, "--b", b, "--out", str(tmp_path / "run"), "--snapshots", "half"])
    assert "expected fractions separated by commas" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["generate", "train", "--a", a, "--b", b, "--out", str(tmp_path / "run"), "--schedule", "linear"])
    assert "invalid choice: 'linear'" in capsys.readouterr().err


def test_a_run_stored_before_the_recipe_options_resumes_with_its_own_recipe(tmp_path, tiny_run):
    import yaml

    from fakebench.generate.train import LEGACY_TRAINING, load_run_config

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    stored = yaml.safe_load((run / "config.yaml").read_text())
    for key in LEGACY_TRAINING:  # as written by the version before these options
        stored.pop(key)
    (run / "config.yaml").write_text(yaml.safe_dump(stored))
    config = load_run_config(run)
    assert (config.background, config.schedule, config.warmup, config.adversarial) == (1.0, "constant", 0, 0.0)
    ckpt = torch.load(run / "checkpoint.pt", weights_only=True)
    for key in LEGACY_TRAINING:
        ckpt["config"].pop(key)
    torch.save(ckpt, run / "checkpoint.pt")
    assert load_checkpoint(run / "checkpoint.pt")["train_config"] == config
    (run / "config.yaml").write_text("model: [unclosed")
    with pytest.raises(ConfigError, match="not readable YAML"):
        load_run_config(run)
