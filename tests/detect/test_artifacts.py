"""Self-blend synthesis, CNN detector training (artifacts and classifier), checkpoints and bad weights."""

from __future__ import annotations

import logging
from dataclasses import replace

import cv2
import numpy as np
import pytest

from fakebench.backbones import create_backbone
from fakebench.detect.artifacts import ArtifactDetector, self_blend
from fakebench.detect.classifier import ClassifierDetector
from fakebench.detect.cnn import CNNConfig
from fakebench.detect.synthetic import face_landmarks
from fakebench.detect.training import FaceSet, TrainConfig
from fakebench.errors import CheckpointError, FakebenchError

SIZE = 64
TINY = CNNConfig(backbone="test_efficientnet", input_size=32, frames=4)


def textured_face(seed: int, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture and 68 face landmarks placed on it, in crop pixels."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.uniform(0, 255, (size, size, 3)).astype(np.float32), (0, 0), 2.0)
    image = cv2.normalize(image, None, 30, 225, cv2.NORM_MINMAX).astype(np.uint8)
    marks = face_landmarks(np.ones(1), rng, jitter=0)[0] * (size / 240) + np.array([size * 0.04, 0])
    return image, marks.astype(np.float32)


@pytest.mark.parametrize("kind", ["sbi", "fwa"])
def test_the_fake_differs_from_the_source_exactly_inside_the_blend_mask(kind):
    face, marks = textured_face(0)
    made = self_blend(face, marks, np.random.default_rng(1), kind)
    changed = (made.image != face).any(-1)
    assert made.mask.max() == pytest.approx(made.ratio) and (made.mask == 0).mean() > 0.2
    assert not changed[made.mask == 0].any()  # outside the mask the pixels are the source's
    assert changed[made.mask > 0.5 * made.ratio].mean() > 0.8  # inside they were replaced
    assert (made.boundary[made.mask == 0] == 0).all()  # the boundary lies within the blended region
    assert made.boundary.max() > 0.5 and made.boundary[made.mask >= made.mask.max() - 1e-6].max() < 0.05


def test_synthesis_is_random_but_seeded():
    face, marks = textured_face(0)
    a, b = (self_blend(face, marks, np.random.default_rng(5)) for _ in range(2))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    others = [self_blend(face, marks, np.random.default_rng(s)) for s in range(8)]
    assert len({o.ratio for o in others}) > 1
    assert len({o.mask.sum().round(1) for o in others}) == len(others)


def test_fwa_blurs_the_inside_of_the_face():
    face, marks = textured_face(3)
    made = self_blend(face, marks, np.random.default_rng(0), "fwa")
    inside = made.mask > 0.99
    detail = lambda img: np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), cv2.CV_32F))[inside].mean()  # noqa: E731
    assert made.ratio == 1.0
    assert detail(made.image) < 0.6 * detail(face)


def separable_sets(n_groups: int = 6, per_group: int = 8) -> tuple[FaceSet, FaceSet]:
    """Reals: smooth textures. Fakes: the same with a bright grid pasted in the middle (learnable in a few steps)."""
    reals, fakes = [], []
    for g in range(n_groups):
        for k in range(per_group):
            face, _ = textured_face(g * 100 + k, 32)
            reals.append(face)
            fake = face.copy()
            fake[10:22:2, 10:22] = 255
            fakes.append(fake)
    groups = np.repeat([f"video{g}" for g in range(n_groups)], per_group).astype(object)
    marks = np.full((len(reals), 68, 2), np.nan, np.float32)
    n = len(reals)
    return (FaceSet(np.stack(reals), np.zeros(n, np.int64), groups, marks),
            FaceSet(np.stack(fakes), np.ones(n, np.int64), groups + "-fake", marks))


def test_classifier_learns_a_separable_set_and_reloads_identically(tmp_path):
    real, fake = separable_sets()
    detector = ClassifierDetector(config=TINY, device="cpu", seed=0)
    summary = detector.fit(real, fake, out=tmp_path / "run", config=TrainConfig(epochs=3, batch_size=16, lr=3e-3, augment=False),
                           progress=False)
    assert summary["finished"] and summary["best_val_auc"] > 0.9
    assert {"best.pt", "last.pt", "history.csv", "summary.json", "env.json", "train.yaml"} <= {
        p.name for p in (tmp_path / "run").iterdir()}
    loaded = ClassifierDetector.load(tmp_path / "run")
    best = int(np.argmax([h["val_auc"] for h in summary["history"]]))  # first epoch at the best AUC
    if best == len(summary["history"]) - 1:
        np.testing.assert_allclose(loaded.score_frames(fake.crops), detector.score_frames(fake.crops), atol=1e-6)
    assert loaded.score_frames(fake.crops).mean() > loaded.score_frames(real.crops).mean()


def test_interrupted_training_resumes_where_it_stopped(tmp_path):
    real, fake = separable_sets(n_groups=4, per_group=4)
    config = TrainConfig(epochs=2, batch_size=8, augment=False)
    whole = ClassifierDetector(config=TINY, device="cpu", seed=0)
    whole.fit(real, fake, out=tmp_path / "whole", config=config, progress=False)
    cut = ClassifierDetector(config=TINY, device="cpu", seed=0)
    summary = cut.fit(real, fake, out=tmp_path / "cut", config=replace(config, minutes=1e-9), progress=False)
    assert not summary["finished"]
    again = ClassifierDetector(config=TINY, device="cpu", seed=0)  # a new process would start like this
    summary = again.fit(real, fake, out=tmp_path / "cut", config=replace(config, minutes=1e-9), progress=False)
    while not summary["finished"]:
        again = ClassifierDetector(config=TINY, device="cpu", seed=0)
        summary = again.fit(real, fake, out=tmp_path / "cut", config=replace(config, minutes=1e-9), progress=False)
    for a, b in zip(whole.model.state_dict().values(), again.model.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


def test_resuming_with_other_settings_is_refused(tmp_path):
    real, fake = separable_sets(n_groups=2, per_group=4)
    ClassifierDetector(config=TINY, device="cpu").fit(real, fake, out=tmp_path / "run",
                                                      config=TrainConfig(epochs=1, batch_size=8, minutes=1e-9), progress=False)
    with pytest.raises(CheckpointError, match="other settings .*train"):
        ClassifierDetector(config=TINY, device="cpu").fit(real, fake, out=tmp_path / "run",
                                                          config=TrainConfig(epochs=1, batch_size=4), progress=False)


def test_artifact_detector_trains_on_reals_alone(tmp_path):
    faces = [textured_face(s) for s in range(12)]
    real = FaceSet(np.stack([f for f, _ in faces]), np.zeros(12, np.int64),
                   np.repeat(["a", "b", "c", "d"], 3).astype(object), np.stack([m for _, m in faces]))
    detector = ArtifactDetector(config=replace(TINY, input_size=SIZE, aux_boundary=True), device="cpu")
    summary = detector.fit(real, out=tmp_path / "run", config=TrainConfig(epochs=1, batch_size=8), progress=False)
    assert summary["finished"] and summary["train_crops"] == 9 and summary["val_crops"] == 6  # 3 reals + 3 blends
    assert np.isfinite(summary["best_val_auc"])
    assert ArtifactDetector.load(tmp_path / "run").config.aux_boundary


def test_classifier_without_fakes_explains_what_it_needs():
    real, _ = separable_sets(n_groups=2, per_group=2)
    with pytest.raises(FakebenchError, match="needs fake faces .*artifacts detector trains on reals alone"):
        ClassifierDetector(config=TINY).fit(real, None, out="unused")


def test_crops_of_another_size_are_resized_with_one_warning(caplog):
    detector = ClassifierDetector(config=TINY, device="cpu")
    with caplog.at_level(logging.WARNING):
        a = detector.score_frames(np.zeros((3, 48, 48, 3), np.uint8))
        detector.score_frames(np.zeros((2, 48, 48, 3), np.uint8))
    assert a.shape == (3,) and np.isfinite(a).all()
    assert sum("resizing them" in r.message for r in caplog.records) == 1


def test_weights_of_another_architecture_are_refused(tmp_path):
    import torch

    other = create_backbone("test_resnet", init="random")
    torch.save(other.state_dict(), tmp_path / "resnet.pth")
    with pytest.raises(CheckpointError, match="another architecture"):
        create_backbone(TINY.backbone, weights=tmp_path / "resnet.pth")


def test_truncated_and_foreign_checkpoints_say_what_they_are(tmp_path):
    detector = ClassifierDetector(config=TINY, device="cpu")
    path = detector.save(tmp_path / "c.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or not a PyTorch file"):
        ClassifierDetector.load(tmp_path / "cut.pt")
    with pytest.raises(CheckpointError, match="expected a artifacts checkpoint, found one of detector 'classifier'"):
        ArtifactDetector.load(path)
    bigger = ClassifierDetector(config=replace(TINY, backbone="test_resnet"), device="cpu")
    bigger.save(tmp_path / "r.pt")
    payload = __import__("torch").load(tmp_path / "r.pt", weights_only=True)
    payload["config"]["backbone"] = "test_efficientnet"  # a checkpoint whose weights do not match its config
    __import__("torch").save(payload, tmp_path / "lie.pt")
    with pytest.raises(CheckpointError, match="weights do not fit test_efficientnet"):
        ClassifierDetector.load(tmp_path / "lie.pt")


def test_offline_imagenet_weights_load_into_the_default_backbone():
    from fakebench.backbones import offline_imagenet_weights

    assert offline_imagenet_weights("tf_efficientnet_lite0") is not None
    pretrained = create_backbone(CNNConfig().backbone, init="imagenet").state_dict()
    scratch = create_backbone(CNNConfig().backbone, init="random").state_dict()
    assert not np.allclose(pretrained["conv_stem.weight"].numpy(), scratch["conv_stem.weight"].numpy())


def test_a_faces_extract_folder_trains_with_its_crops_read_back(tmp_path):
    """An export's track.npz holds the geometry only; the crops come back from crops/NNNNNN.png."""
    from fakebench.detect.synthetic import synthetic_track
    from fakebench.detect.training import collect_faces
    from fakebench.faces.export import export_track

    track = synthetic_track(np.ones(5), has_face=np.array([1, 1, 0, 1, 1], bool), frames=np.arange(0, 50, 10))
    folder = export_track(track, tmp_path / "export" / "clip")
    detector = ArtifactDetector(config=TINY, device="cpu")
    (found, group), = collect_faces([tmp_path / "export"], detector, progress=False)
    np.testing.assert_array_equal(found.crops, track.crops)
    faces = FaceSet.from_tracks([(found, group)], 0)
    assert len(faces) == 4 and group == str(folder)
    (folder / "crops" / "000030.png").unlink()
    with pytest.raises(FakebenchError, match=r"000030.png: expected the 32x32 face crop of frame 30 .*missing"):
        collect_faces([folder], detector, progress=False)
