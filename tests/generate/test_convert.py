"""Converting real video: same frames, size and fps; masks exactly where faces were swapped; the manifest."""

from __future__ import annotations

import json
import logging
import subprocess

import cv2
import numpy as np
import pytest

from fakebench.cli import main
from fakebench.errors import ConfigError, FakebenchError
from fakebench.files import sha256_file
from fakebench.generate.convert import ConvertSettings, colour_match, composite, convert
from fakebench.generate.provenance import SCHEMA, MaskWriter, output_paths, read_manifest
from fakebench.media import probe_video, read_video
from tests.conftest import sample

MANIFEST_KEYS = {"schema", "fakebench_version", "video", "masks", "label", "input", "identities", "method", "run",
                 "checkpoint", "settings", "frames", "frames_swapped", "fps", "width", "height"}


# -- the per-frame steps, on synthetic images ---------------------------------------------------------
def _ring(cx: float, cy: float, r: float) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 68, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * 1.2 * np.sin(t)], 1).astype(np.float32)


@pytest.mark.parametrize("blend", ["alpha", "seamless"])
def test_composite_changes_the_frame_only_inside_the_mask(blend):
    yy, xx = np.mgrid[:120, :160]
    frame = np.stack([xx, yy, np.full_like(xx, 90)], 2).astype(np.uint8)
    face = np.zeros((64, 64, 3), np.uint8)
    face[(np.arange(64) // 4) % 2 == 0] = 255  # bands: Poisson blending keeps the face's gradients
    affine = np.array([[0.8, 0, -32], [0, 0.8, -16]], np.float32)  # frame (40..120, 20..100) -> crop
    marks = _ring(80, 60, 25)
    out, mask = composite(frame, face, affine, marks, ConvertSettings(blend=blend, mask_erode=0.05))
    assert mask.dtype == np.uint8 and set(np.unique(mask)) == {0, 255}
    same = composite(frame, face, affine, marks, ConvertSettings(mask_erode=0.05))[1]
    assert np.array_equal(mask, same)  # blend-independent
    inside = mask > 0
    assert 0.5 * np.pi * 25 * 30 < inside.sum() < np.pi * 25 * 30  # the eroded hull of the ring
    whole = composite(frame, face, affine, marks, ConvertSettings(blend=blend))[1] > 0  # default: no erosion
    assert whole.sum() > 0.95 * np.pi * 25 * 30 and whole[inside].all()
    far = cv2.dilate(mask, np.ones((31, 31), np.uint8)) == 0
    assert np.array_equal(out[far], frame[far])
    assert (np.abs(out[inside].astype(int) - frame[inside]).max(1) > 40).mean() > 0.3


def test_reinhard_matches_mean_and_std_in_lab_and_hist_matches_the_histogram():
    rng = np.random.default_rng(1)
    face = rng.normal(90, 20, (64, 64, 3)).clip(0, 255).astype(np.uint8)
    ref = rng.normal(170, 35, (64, 64, 3)).clip(0, 255).astype(np.uint8)
    region = np.ones((64, 64), bool)
    matched = colour_match(face, ref, region, "reinhard")
    lab = [cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2LAB) for x in (matched, ref)]
    assert np.allclose(lab[0].reshape(-1, 3).mean(0), lab[1].reshape(-1, 3).mean(0), atol=1.0)
    assert np.allclose(lab[0].reshape(-1, 3).std(0), lab[1].reshape(-1, 3).std(0), rtol=0.1)
    hist = colour_match(face, ref, region, "hist")
    assert abs(float(hist.mean()) - float(ref.mean())) < 2 and abs(float(hist.std()) - float(ref.std())) < 3
    assert colour_match(face, ref, region, "none") is face


def test_mask_writer_streams_an_npz_and_leaves_nothing_when_short(tmp_path):
    masks = np.zeros((3, 4, 5), np.uint8)
    masks[1, 1:3, 2:4] = 255
    with MaskWriter(tmp_path / "x.masks.npz", masks.shape) as writer:
        writer.write(None)
        writer.write(masks[1])
        writer.write(masks[2])
    assert np.array_equal(np.load(tmp_path / "x.masks.npz")["masks"], masks)
    with pytest.raises(FakebenchError, match="1 masks written, 3 announced"):
        with MaskWriter(tmp_path / "y.masks.npz", masks.shape) as short:
            short.write(None)
    assert not (tmp_path / "y.masks.npz").exists()
    assert output_paths(tmp_path / "clip.v2.mp4")["manifest"].name == "clip.v2.json"


# -- real video -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fake_a(tiny_run, tmp_path_factory):
    """Frames 200..224 of A (not trained on: the tiny run used frames 0..120) swapped to b."""
    out = tmp_path_factory.mktemp("fake") / "a_to_b.mp4"
    manifest = convert(tiny_run, sample("A")[0], to="b", out=out, start=200, stop=224, device="cpu", progress=False)
    return out, manifest


@pytest.mark.media
def test_convert_keeps_frame_count_size_and_fps(fake_a):
    out, manifest = fake_a
    info, source = probe_video(out), probe_video(sample("A")[0])
    assert (info.width, info.height) == (source.width, source.height) == (manifest["width"], manifest["height"])
    assert info.fps == pytest.approx(source.fps, abs=0.01) and manifest["fps"] == source.fps
    assert len(read_video(out).frames) == 24 == manifest["frames"]


@pytest.mark.media
def test_masks_are_non_empty_exactly_where_faces_were_swapped(fake_a):
    out, manifest = fake_a
    masks = np.load(output_paths(out)["masks"])["masks"]
    assert masks.shape == (24, 288, 360) and masks.dtype == np.uint8 and set(np.unique(masks)) <= {0, 255}
    swapped = masks.reshape(24, -1).max(1) > 0
    assert swapped.sum() == manifest["frames_swapped"] >= 22  # A's face is in (nearly) every frame
    real = read_video(sample("A")[0], indices=range(200, 224)).frames.astype(np.int16)
    fake = read_video(out).frames.astype(np.int16)
    for t in range(24):
        changed = np.abs(fake[t] - real[t]).max(2) > 40
        if swapped[t]:
            near = cv2.dilate(masks[t], np.ones((15, 15), np.uint8)) > 0
            assert changed[near].sum() > 0.9 * changed.sum()  # what changed lies at the mask
        else:
            assert changed.mean() < 0.001


@pytest.mark.media
def test_manifest_follows_the_schema(fake_a, tiny_run):
    out, manifest = fake_a
    on_disk = read_manifest(output_paths(out)["manifest"])
    assert set(json.loads(output_paths(out)["manifest"].read_text())) == MANIFEST_KEYS
    assert on_disk["schema"] == SCHEMA and on_disk["label"] == 1 and on_disk["fakebench_version"] == "0.1.0"
    assert on_disk["video"] == "a_to_b.mp4" and on_disk["masks"] == "a_to_b.masks.npz"
    assert on_disk["paths"]["video"] == out
    assert on_disk["input"] == {"path": str(sample("A")[0].resolve()), "sha256": sha256_file(sample("A")[0]),
                                "start_frame": 200, "stop_frame": 224}
    assert on_disk["identities"] == {"target": "a", "source": "b"}  # A is the run's input for 'a'
    assert on_disk["checkpoint"] == {"step": 10, "sha256": sha256_file(tiny_run / "checkpoint.pt")}
    settings = on_disk["settings"]
    assert {"size": 64, "blend": "alpha", "colour": "reinhard", "mask_erode": 0.02, "mask_blur": 0.1}.items() <= settings.items()
    assert settings["trained_frames_in_segment"] == 0


@pytest.mark.media
def test_container_is_tagged_synthetic(fake_a):
    import imageio_ffmpeg

    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(fake_a[0])],
                           capture_output=True, text=True)
    assert "synthetic" in probe.stderr


@pytest.mark.media
def test_seamless_blend_and_histogram_colour_are_recorded(tiny_run, tmp_path):
    out = tmp_path / "seamless.mp4"
    manifest = convert(tiny_run, sample("A")[0], to="b", out=out, start=300, stop=304, device="cpu", progress=False,
                       settings=ConvertSettings(blend="seamless", colour="hist", mask_erode=0.1, codec="mp4v"))
    assert manifest["frames_swapped"] == 4 and manifest["settings"]["blend"] == "seamless"
    assert manifest["settings"]["colour"] == "hist" and manifest["settings"]["mask_erode"] == 0.1
    assert np.load(output_paths(out)["masks"])["masks"].shape == (4, 288, 360)


@pytest.mark.media
def test_unknown_identity_is_refused_with_the_known_ones(tiny_run, tmp_path, capsys):
    with pytest.raises(ConfigError, match=r"--to 'c': this run has no such identity; its identities are a, b"):
        convert(tiny_run, sample("A")[0], to="c", out=tmp_path / "x.mp4", stop=2, device="cpu")
    code = main(["generate", "convert", "--run", str(tiny_run), "--video", str(sample("A")[0]), "--to", "B",
                 "--out", str(tmp_path / "x.mp4"), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "did you mean 'b'" in err[0]
    assert not (tmp_path / "x.mp4").exists()


@pytest.mark.media
def test_a_video_without_faces_passes_through_with_a_warning(tiny_run, tmp_path, caplog):
    noface = sample("NOFACE")[0]
    out = tmp_path / "noface.mp4"
    with caplog.at_level(logging.WARNING, logger="fakebench.generate"):
        manifest = convert(tiny_run, noface, to="b", out=out, stop=6, device="cpu", progress=False)
    assert manifest["frames_swapped"] == 0 and manifest["frames"] == 6
    assert manifest["identities"] == {"target": "unknown", "source": "b"}
    assert any("no face in any of the 6 frames" in r.getMessage() for r in caplog.records)
    assert np.load(output_paths(out)["masks"])["masks"].max() == 0
    real = read_video(noface, indices=range(6)).frames.astype(np.int16)
    assert np.abs(read_video(out).frames.astype(np.int16) - real).mean() < 3  # only the H.264 re-encode


@pytest.mark.media
def test_a_truncated_checkpoint_stops_convert(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    data = (run / "checkpoint.pt").read_bytes()
    (run / "checkpoint.pt").write_bytes(data[:1000])
    with pytest.raises(FakebenchError, match="not a readable checkpoint"):
        convert(run, sample("A")[0], to="b", out=tmp_path / "x.mp4", stop=2, device="cpu")
