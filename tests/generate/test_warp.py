"""Training pairs: seeded, deterministic, the original 5x5 grid warp, the priority map riding along."""

from __future__ import annotations

import numpy as np
import pytest

from fakebench.errors import ConfigError
from fakebench.generate.warp import WarpConfig, random_warp, training_pair

STILL = WarpConfig(rotate=0, scale=0, shift=0, flip=0, grid_noise=0, lightness=0, colour=0)


@pytest.fixture
def face() -> np.ndarray:
    yy, xx = np.mgrid[:128, :128]
    img = np.stack([xx * 2, yy * 2, (xx + yy) % 256], axis=2)
    return np.clip(img, 0, 255).astype(np.uint8)


def test_same_seed_same_pair_other_seed_other_pair(face):
    weight = np.zeros((128, 128), np.uint8)
    weight[40:60, 30:50] = 255
    a = training_pair(face, weight, np.random.default_rng(7), WarpConfig(), 64)
    b = training_pair(face, weight, np.random.default_rng(7), WarpConfig(), 64)
    c = training_pair(face, weight, np.random.default_rng(8), WarpConfig(), 64)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    assert a[0].shape == a[1].shape == (64, 64, 3) and a[0].dtype == np.uint8
    assert a[2].shape == (64, 64) and a[2].dtype == np.float32 and 0 <= a[2].min() and a[2].max() <= 1


def test_without_randomness_input_and_target_are_the_face(face):
    x, y, w = training_pair(face, None, np.random.default_rng(0), STILL, 128)
    assert np.array_equal(x, face) and np.array_equal(y, face) and (w == 1).all()


def test_grid_warp_moves_the_input_but_not_the_target_much(face):
    warped, target = random_warp(face, np.random.default_rng(1), 0.03)
    move_in = np.abs(warped.astype(float) - face).mean()
    move_target = np.abs(target.astype(float) - face).mean()
    assert move_in > 2 * move_target > 0


def test_the_priority_map_follows_a_flip(face):
    weight = np.zeros((128, 128), np.uint8)
    weight[:, :40] = 255  # left third
    flip = WarpConfig(rotate=0, scale=0, shift=0, flip=1.0, grid_noise=0, lightness=0, colour=0)
    x, y, w = training_pair(face, weight, np.random.default_rng(0), flip, 64)
    assert w[:, -15:].mean() > 0.99 and w[:, :40].max() == 0
    assert np.array_equal(y, x) and np.array_equal(y[:, ::-1], training_pair(face, None, np.random.default_rng(0), STILL, 64)[1])


def test_bad_warp_settings_are_refused():
    with pytest.raises(ConfigError, match="warp.rotate must be >= 0"):
        WarpConfig(rotate=-1)
    with pytest.raises(ConfigError, match="probability"):
        WarpConfig(flip=2)
    with pytest.raises(ValueError, match="smaller than the model size"):
        training_pair(np.zeros((32, 32, 3), np.uint8), None, np.random.default_rng(0), STILL, 64)
