"""Training inputs are checked where they enter: crops the self-blend cannot use never train, and no
fake is the real face again."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import numpy as np
import pytest

from fakebench.cli import main
from fakebench.detect.artifacts import ArtifactDetector
from fakebench.detect.selfblend import MIN_CHANGED, NO_LANDMARKS, TINY_HULL, blendable, changed_share, self_blend
from fakebench.detect.training import FaceSet, TrainConfig, _blended_validation, _Samples
from fakebench.errors import NoFaceError
from tests.conftest import sample
from tests.detect.test_artifacts import SIZE, TINY, textured_face

TRAIN = ["--detector", "artifacts", "--backbone", "test_efficientnet", "--size", "32", "--epochs", "1", "--batch", "8"]


def faces_with_flat_ones(n_textured: int = 6, n_flat: int = 4) -> FaceSet:
    """Textured faces, then black and mid-gray ones with the same landmarks (a covered lens, a blank frame):
    a low-resolution copy of a flat face is the face itself, so most draws of their fakes change nothing."""
    faces = [textured_face(s) for s in range(n_textured)]
    marks = np.stack([m for _, m in faces] + [faces[0][1]] * n_flat)
    flat = [np.full((SIZE, SIZE, 3), 0 if k % 2 == 0 else 128, np.uint8) for k in range(n_flat)]
    crops = np.stack([f for f, _ in faces] + flat)
    n = len(crops)
    return FaceSet(crops, np.zeros(n, np.int64), np.array([f"g{i % 3}" for i in range(n)], object), marks)


# -- the synthesis ----------------------------------------------------------------------------------------
def test_crops_without_landmarks_or_with_a_tiny_hull_are_not_blendable():
    face, marks = textured_face(0)
    tiny = np.tile(np.array([[2.0, 2.0]], np.float32), (68, 1)) + np.random.default_rng(0).uniform(0, 3, (68, 2))
    ok, reasons = blendable(np.stack([marks, np.full((68, 2), np.nan, np.float32), tiny]), SIZE)
    assert ok.tolist() == [True, False, False]
    assert reasons == {NO_LANDMARKS: 1, TINY_HULL: 1}
    with pytest.raises(NoFaceError, match="no 68 face landmarks.*extract the faces with landmarks"):
        self_blend(face, np.full((68, 2), np.nan, np.float32), np.random.default_rng(0))


def test_a_flat_face_gives_no_fake_rather_than_itself():
    _, marks = textured_face(0)
    black = np.zeros((SIZE, SIZE, 3), np.uint8)
    with pytest.raises(NoFaceError, match="changed under"):
        self_blend(black, marks, np.random.default_rng(0), "fwa")  # a black face shrunk and grown back is black


def test_no_training_sample_labelled_fake_equals_its_real_input():
    faces = faces_with_flat_ones()
    samples = _Samples(faces, True, TrainConfig(seed=0))
    fakes = reals_for_fakes = 0
    for epoch in range(3):
        for index in range(1, len(samples), 2):  # the odd samples are the self-blends
            image, label, _ = samples.get(index, epoch, augmented=False)
            real = faces.crops[index // 2]
            if label == 1:
                fakes += 1
                assert changed_share(image, real) >= MIN_CHANGED, f"epoch {epoch} sample {index}: a fake equal to its real"
            else:
                reals_for_fakes += 1
                np.testing.assert_array_equal(image, real)  # given as the real it is
    assert fakes >= 3 * 6 and reals_for_fakes > 0 and samples.unblended == reals_for_fakes
    val = _blended_validation(faces, TrainConfig(seed=0))
    n = len(faces)
    assert (val.labels[:n] == 0).all() and len(val) < 2 * n  # the flat faces that gave no fake are left out
    for image in val.crops[n:]:  # each validation fake differs from every real, its own source included
        assert min(changed_share(image, real) for real in faces.crops) >= MIN_CHANGED


def test_training_counts_the_blends_that_gave_no_fake(tmp_path, caplog):
    faces = faces_with_flat_ones(n_textured=9, n_flat=3)
    detector = ArtifactDetector(config=replace(TINY, input_size=SIZE), device="cpu")
    with caplog.at_level(logging.INFO, logger="fakebench"):
        summary = detector.fit(faces, out=tmp_path / "run", config=TrainConfig(epochs=1, batch_size=8, augment=False),
                               progress=False)
    assert summary["finished"]
    assert any("gave no fake in 4 draws and were trained as reals" in r.getMessage() for r in caplog.records)


def test_a_set_without_landmarks_is_refused_before_the_run_folder_is_made(tmp_path):
    faces = faces_with_flat_ones()
    faces.landmarks[:] = np.nan
    detector = ArtifactDetector(config=replace(TINY, input_size=SIZE), device="cpu")
    with pytest.raises(NoFaceError, match=r"none of the 10 real crops can be self-blended \(10 with no 68 face "
                                          r"landmarks\).*extract the faces with landmarks"):
        detector.fit(faces, out=tmp_path / "run", config=TrainConfig(epochs=1), progress=False)
    assert not (tmp_path / "run").exists()


# -- through the command line, on real faces --------------------------------------------------------------
@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """Sample D's faces exported by `faces extract` at 32 px, with and without landmarks (4 frames each)."""
    video = sample("D")[0]
    root = tmp_path_factory.mktemp("exports")
    for name, extra in (("with", []), ("without", ["--no-landmarks"])):
        assert main(["faces", "extract", str(video), "--size", "32", "--frames", "4", "--out", str(root / name), "-q",
                     *extra]) == 0
    return root


@pytest.mark.media
def test_a_no_landmarks_export_is_refused_in_one_line(exports, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["detect", "train", *TRAIN, "--real", str(exports / "without"), "--out", str(run), "-q"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("fakebench: error: none of the 4 real crops can be self-blended (4 with no 68 face "
                             "landmarks)") and "extract the faces with landmarks" in err[0]
    assert not run.exists()


@pytest.mark.media
def test_a_mixed_set_trains_on_the_usable_crops_and_says_how_many_it_skipped(exports, tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["detect", "train", *TRAIN, "--real", str(exports / "with"), str(exports / "without"), "--out", str(run)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "skipping 4 of 8 real crops the self-blend cannot use (4 with no 68 face landmarks); training on the other 4" \
           in captured.err
    printed = json.loads(captured.out.strip().splitlines()[-1])
    assert printed["skipped_crops"] == {NO_LANDMARKS: 4}
    assert printed["train_crops"] + printed["val_crops"] // 2 == 4  # the validation holds each real and its blend
    summary = json.loads((run / "summary.json").read_text())
    assert summary["skipped_crops"] == {NO_LANDMARKS: 4} and summary["finished"]
