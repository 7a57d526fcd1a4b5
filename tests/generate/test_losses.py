"""L1 + (1 - SSIM), and the eye/mouth priority drawn from the 68 landmarks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fakebench.generate.losses import priority_map, swap_loss


def _landmarks() -> np.ndarray:
    marks = np.full((68, 2), 5.0, np.float32)
    marks[36:42] = [[20, 30], [24, 28], [28, 28], [32, 30], [28, 32], [24, 32]]  # an eye
    marks[42:48] = marks[36:42] + [20, 0]
    marks[48:60] = np.stack([40 + 10 * np.cos(np.linspace(0, 2 * np.pi, 12, endpoint=False)),
                             50 + 4 * np.sin(np.linspace(0, 2 * np.pi, 12, endpoint=False))], 1)
    return marks


def test_priority_map_covers_eyes_and_mouth_only():
    m = priority_map(_landmarks(), 64)
    assert m.dtype == np.uint8 and m.shape == (64, 64)
    assert m[30, 26] == 255 and m[30, 46] == 255 and m[50, 40] == 255
    assert m[10, 60] == 0 and m[60, 5] == 0
    assert priority_map(np.full((68, 2), np.nan, np.float32), 64).max() == 0


def test_loss_is_zero_for_a_perfect_reconstruction_and_grows_with_error():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64)
    assert float(swap_loss(x, x)) < 1e-5
    assert float(swap_loss(x + 0.05 * torch.randn_like(x), x)) < float(swap_loss(x + 0.2 * torch.randn_like(x), x))


def test_priority_weighs_errors_on_the_eyes_more():
    x = torch.full((1, 3, 64, 64), 0.5)
    weight = torch.from_numpy(priority_map(_landmarks(), 64).astype(np.float32) / 255)[None]
    on_eyes, elsewhere = x.clone(), x.clone()
    on_eyes[..., 28:33, 20:33] += 0.3
    elsewhere[..., 2:7, 50:63] += 0.3
    plain = float(swap_loss(on_eyes, x)), float(swap_loss(elsewhere, x))
    weighted = float(swap_loss(on_eyes, x, weight, 4.0)), float(swap_loss(elsewhere, x, weight, 4.0))
    assert weighted[0] > plain[0] and weighted[1] < plain[1]


def test_face_map_marks_the_hull_and_the_priority_parts():
    from fakebench.generate.losses import FACE_LEVEL, face_map, split_face_map

    marks = _landmarks()
    marks[:17] = np.stack([32 + 28 * np.cos(np.linspace(0.2, np.pi - 0.2, 17)),
                           30 + 30 * np.sin(np.linspace(0.2, np.pi - 0.2, 17))], 1)  # a jaw line round the parts
    m = face_map(marks, 64)
    assert m[30, 26] == 255 and m[50, 40] == 255  # an eye, the mouth
    assert m[40, 14] == FACE_LEVEL  # a cheek: face, no priority
    assert m[2, 2] == 0 and m[62, 60] == 0  # corners: off the face
    face, prio = split_face_map(torch.from_numpy(m.astype(np.float32) / 255)[None])
    assert float(face[0, 40, 14]) == 1 and float(prio[0, 40, 14]) == 0
    assert float(face[0, 30, 26]) == 1 and float(prio[0, 30, 26]) == 1 and float(face[0, 2, 2]) == 0


def test_masked_loss_spends_nothing_on_the_background():
    x = torch.full((1, 3, 64, 64), 0.5)
    face = torch.zeros(1, 64, 64)
    face[:, 16:48, 16:48] = 1
    off, on = x.clone(), x.clone()
    off[..., :8, :] += 0.3  # an error off the face only
    on[..., 24:40, 24:40] += 0.3
    assert float(swap_loss(off, x, face=face, background=0.0)) < 1e-6
    assert float(swap_loss(off, x, face=face, background=0.1)) < 0.2 * float(swap_loss(off, x))
    assert float(swap_loss(on, x, face=face, background=0.0)) == pytest.approx(float(swap_loss(on, x)), rel=0.05)


def test_feature_loss_is_zero_on_equal_faces_and_grows_with_blur():
    from fakebench.generate.losses import FeatureLoss

    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64)
    blurred = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
    f = FeatureLoss()
    assert float(f(x, x)) < 1e-6
    assert float(f(blurred, x)) > 0.05
