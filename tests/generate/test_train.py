"""Training on tiny real crops: the loss goes down, a resumed run takes the same next step, bad input is refused."""

from __future__ import annotations

import json
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


# -- the run folder is fakebench's, one writer at a time, everything a later run reads written atomically ------------
def _names(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_a_folder_fakebench_did_not_write_is_refused_and_left_as_it_was(tmp_path, tiny_sources, capsys):
    from fakebench.errors import OutputError
    from fakebench.generate.train import train

    run = tmp_path / "thesis"
    run.mkdir()
    (run / "thesis.tex").write_text("\\chapter{Deepfakes}\n")
    a, b = tiny_sources["a"][0].path, tiny_sources["b"][0].path
    assert main(["generate", "train", "--a", a, "--b", b, "--out", str(run), "--steps", "1", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not empty and fakebench did not write it (it holds thesis.tex)" in err[0], err
    assert "choose another --out" in err[0]
    with pytest.raises(OutputError, match="fakebench did not write it"):  # the Python API goes through the same claim
        train(tiny_config(), out=run, a=[tiny_sources["a"][0]], b=[tiny_sources["b"][0]], steps=1, device="cpu",
              progress=False)
    assert _names(run) == ["thesis.tex"] and (run / "thesis.tex").read_text() == "\\chapter{Deepfakes}\n"


def test_a_typo_in_the_inputs_leaves_no_run_folder_and_a_killed_claim_is_no_foreign_folder(tmp_path, tiny_sources):
    from fakebench.errors import MediaError

    with pytest.raises(MediaError, match="no such file"):
        Trainer(tiny_config(), tmp_path / "run", device="cpu", progress=False).setup(
            {"a": [tmp_path / "typo.mp4"], "b": tiny_sources["b"]})
    assert not (tmp_path / "run").exists()
    killed = tmp_path / "killed"  # a first run killed while writing its marker: only the marker's temporary is there
    killed.mkdir()
    (killed / "..fakebench.1a2b3c4d.json").write_text("{}")
    trainer = Trainer(tiny_config(), killed, device="cpu", progress=False).setup(tiny_sources)
    trainer.close()
    assert ".fakebench.json" in _names(killed) and "..fakebench.1a2b3c4d.json" not in _names(killed)
    assert ".fakebench.lock" not in _names(killed)  # close() lets the lock go


def test_a_second_job_on_a_run_is_refused_and_a_killed_jobs_lock_is_taken_over(tmp_path, tiny_run, capsys):
    import signal
    import subprocess
    import sys

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom fakebench import outputs\n"
                               "with outputs.lock(sys.argv[1]):\n    print('locked', flush=True)\n    time.sleep(120)",
                               str(run)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(["generate", "train", "--out", str(run), "--steps", "12", "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"is in use by process {holder.pid} since" in err[0], err
        assert "wait for it to finish or choose another --out" in err[0]
        # reading a run takes no lock: a preview of it works while the other job holds it
        assert main(["generate", "preview", "--run", str(run), "--out", str(tmp_path / "p.png"), "--device", "cpu",
                     "-q"]) == 0
        assert f'"pid": {holder.pid}' in (run / ".fakebench.lock").read_text()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run / ".fakebench.lock").exists()  # what a SIGKILL leaves
    assert main(["generate", "train", "--out", str(run), "--steps", "12", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert f"taking over the lock of process {holder.pid}, which is gone" in err and "resuming at step 10" in err
    assert not (run / ".fakebench.lock").exists()  # released when training ends
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 12


def test_a_torn_last_log_line_is_dropped_on_resume(tmp_path, tiny_run, capsys):
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    with open(run / "log.csv", "a") as fh:
        fh.write("1")  # a kill (or a power cut) inside the append of step 11's row: its first byte only
    assert main(["generate", "train", "--out", str(run), "--steps", "12", "-q", "--json"]) == 0
    lines = (run / "log.csv").read_text().splitlines()
    steps = [int(line.split(",")[0]) for line in lines[1:]]
    assert steps == list(range(1, 13)), steps  # log_every 1: each step once, the torn piece gone
    assert all(len(line.split(",")) == len(lines[0].split(",")) for line in lines)
    assert json.loads(capsys.readouterr().out)["loss"] == float(lines[-1].split(",")[3])  # read past the torn line


def test_a_rerun_of_a_finished_run_adds_no_log_row(tmp_path, tiny_sources):
    run = tmp_path / "run"
    for sources in (tiny_sources, None):  # 7 steps: checkpoints at 5 and at the end; then the same command again
        trainer = Trainer(tiny_config(), run, device="cpu", progress=False).setup(sources)
        assert trainer.fit(steps=7).step == 7
    steps = [int(line.split(",")[0]) for line in (run / "log.csv").read_text().splitlines()[1:]]
    assert steps == [1, 2, 3, 4, 5, 6, 7], steps  # once each: the run that ended at 7 wrote it in one row


def test_prefetched_batches_follow_the_warp_schedule_of_their_own_step(tmp_path, tiny_sources):
    config = tiny_config(warp_until=0.5, save_every=100, val_every=100, preview_every=100)
    params = []
    for workers in (2, 0):  # warp threads draw each batch one step ahead; the step 5 batch must still be unwarped
        trainer = Trainer(config, tmp_path / f"run{workers}", device="cpu", progress=False, workers=workers)
        trainer.setup(tiny_sources).fit(steps=8)
        trainer.close()
        params.append(list(trainer.model.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(*params))


def test_the_initial_weights_do_not_depend_on_a_cold_face_cache(tmp_path, tiny_sources, monkeypatch):
    import fakebench.generate.train as train_module

    warm = Trainer(tiny_config(), tmp_path / "warm", device="cpu", progress=False).setup(tiny_sources)
    load = train_module.load_faces

    def cold(*args, **kwargs):  # a cold cache builds MTCNN, which draws torch random numbers for its layers
        torch.rand(100)
        return load(*args, **kwargs)

    monkeypatch.setattr(train_module, "load_faces", cold)
    other = Trainer(tiny_config(), tmp_path / "cold", device="cpu", progress=False).setup(tiny_sources)
    assert all(torch.equal(a, b) for a, b in zip(warm.model.parameters(), other.model.parameters()))


def test_a_full_disk_at_a_checkpoint_is_one_line_and_the_last_checkpoint_stays(tmp_path, tiny_run, capsys,
                                                                               monkeypatch):
    from fakebench import files

    run, probe = tmp_path / "run", tmp_path / "probe"
    shutil.copytree(tiny_run, run)
    shutil.copytree(tiny_run, probe)
    argv = ["generate", "train", "--steps", "15", "-q", "--device", "cpu"]
    monkeypatch.setattr(files, "_writes", 0)
    monkeypatch.setenv("FAKEBENCH_FAULT_LOG", str(tmp_path / "writes.txt"))
    assert main([*argv, "--out", str(probe)]) == 0  # where in the job checkpoint.pt is written
    k = (tmp_path / "writes.txt").read_text().splitlines().index(str(probe / "checkpoint.pt")) + 1
    before = files.sha256_file(run / "checkpoint.pt")
    monkeypatch.setattr(files, "_writes", 0)
    monkeypatch.setenv("FAKEBENCH_FAULT", f"enospc:{k}")
    assert main([*argv, "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{run / 'checkpoint.pt'}: cannot write (ENOSPC): no space left" in err[0], err
    assert files.sha256_file(run / "checkpoint.pt") == before and load_checkpoint(run / "checkpoint.pt")["step"] == 10
    assert not [n for n in _names(run) if n.split("/")[-1].startswith(".") and n.count(".") >= 3]  # no temporaries
    assert not (run / ".fakebench.lock").exists()


@pytest.fixture
def small_disk(tmp_path):
    """``mount(kib)``: a fresh tmpfs of that size (root only; skips where mounting is not permitted)."""
    import subprocess

    mounts = []

    def mount(kib: int):
        where = tmp_path / f"disk{len(mounts)}"
        where.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(where)], capture_output=True,
                              text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); the fault-hook test "
                        "covers the same path")
        mounts.append(where)
        return where

    yield mount
    for where in mounts:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_really_full_disk_at_a_checkpoint_is_one_line_and_the_last_checkpoint_stays(tiny_run, small_disk, capsys):
    from fakebench.files import sha256_file

    used = sum(-(-p.stat().st_size // 4096) * 4 for p in tiny_run.rglob("*") if p.is_file())
    disk = small_disk(used + 16 + 3 * 1024)  # room for the next previews (~0.8 MB), not for a 7 MB checkpoint
    run = disk / "run"
    shutil.copytree(tiny_run, run)
    before = sha256_file(run / "checkpoint.pt")
    assert (run / "checkpoint.pt").stat().st_size > 4 << 20
    assert main(["generate", "train", "--out", str(run), "--steps", "15", "-q", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "checkpoint.pt: cannot write (ENOSPC): no space left on the device" in err[0], err
    assert sha256_file(run / "checkpoint.pt") == before and load_checkpoint(run / "checkpoint.pt")["step"] == 10
    assert not [n for n in _names(run) if n.split("/")[-1].startswith(".") and n.count(".") >= 3]
    assert not (run / ".fakebench.lock").exists()


def test_a_read_only_run_folder_is_one_line_and_left_as_it_was(tiny_run, small_disk, capsys):
    import subprocess

    disk = small_disk(64 << 10)
    run = disk / "run"
    shutil.copytree(tiny_run, run)
    before = {name: (run / name).read_bytes() for name in _names(run) if (run / name).is_file()}
    remount = subprocess.run(["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True)
    if remount.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only: {remount.stderr.strip()}")
    assert main(["generate", "train", "--out", str(run), "--steps", "15", "-q", "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write (EROFS): the file system is read-only: choose another place" in err[0], err
    assert {name: (run / name).read_bytes() for name in _names(run) if (run / name).is_file()} == before


def test_single_file_outputs_replace_only_files_fakebench_wrote(tmp_path, tiny_run, capsys):
    from tests.conftest import sample

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = {name: (run / name).read_bytes() for name in _names(run) if (run / name).is_file()}
    drawing = tmp_path / "drawing.png"
    drawing.write_bytes(b"my own drawing")
    assert main(["generate", "preview", "--run", str(run), "--out", str(drawing), "--device", "cpu", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "drawing.png exists and fakebench did not write it" in err[0], err
    assert drawing.read_bytes() == b"my own drawing"
    out = tmp_path / "grid.png"
    for _ in range(2):  # a file fakebench wrote is replaced by the next run of the command
        assert main(["generate", "preview", "--run", str(run), "--out", str(out), "--device", "cpu", "-q"]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert {name: (run / name).read_bytes() for name in _names(run) if (run / name).is_file()} == before  # run as it was
    video = tmp_path / "holiday.mp4"
    video.write_bytes(b"not fakebench's")
    assert main(["generate", "convert", "--run", str(run), "--video", str(sample("A")[0]), "--to", "b", "--out",
                 str(video), "--stop", "2", "--device", "cpu", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "holiday.mp4 exists and fakebench did not write it" in err[0], err
    assert video.read_bytes() == b"not fakebench's" and not (tmp_path / "holiday.json").exists()
