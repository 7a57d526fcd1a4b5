"""L1 + (1 - SSIM), and the eye/mouth priority drawn from the 68 landmarks."""

from __future__ import annotations

import numpy as np
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
