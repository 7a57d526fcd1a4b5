"""Each perturbation is deterministic and changes the frames by the amount perturb.py documents."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakebench.benchmarks import perturb as P
from fakebench.errors import ConfigError, FakebenchError
from fakebench.media import read_video, write_video
from tests.conftest import synthetic_frames


def colourful(h: int = 64, w: int = 80, seed: int = 0) -> np.ndarray:
    """A smooth colourful image away from 0 and 255 (no clipping hides the perturbation)."""
    yy, xx = np.mgrid[:h, :w] / np.array([h, w])[:, None, None]
    img = np.stack([60 + 120 * xx, 60 + 120 * yy, 180 - 100 * xx * yy], 2)
    return np.clip(img + np.random.default_rng(seed).normal(0, 2, img.shape), 0, 255).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 10 * np.log10(255**2 / max(mse, 1e-12))


@pytest.mark.parametrize("name", P.NAMES)
def test_every_level_is_deterministic_and_level_zero_is_identity(name):
    frames = synthetic_frames(4, 48, 64)
    for level in (0, 1, 5):
        a = P.perturb_frames(frames, name, level, seed=3, key="vid", indices=[10, 11, 12, 13], fps=10)
        b = P.perturb_frames(frames, name, level, seed=3, key="vid", indices=[10, 11, 12, 13], fps=10)
        assert a.dtype == np.uint8 and a.shape == frames.shape
        np.testing.assert_array_equal(a, b)
        if level == 0:
            np.testing.assert_array_equal(a, frames)
        else:
            assert not np.array_equal(a, frames), f"{name} level {level} changed nothing"


@pytest.mark.parametrize("name", ["block", "noise"])
def test_random_perturbations_depend_on_seed_and_frame_not_on_sampling(name):
    frames = synthetic_frames(3, 48, 64)
    a = P.perturb_frames(frames, name, 2, seed=1, key="v", indices=[5, 6, 7])
    other_seed = P.perturb_frames(frames, name, 2, seed=2, key="v", indices=[5, 6, 7])
    assert not np.array_equal(a, other_seed)
    alone = P.perturb_frames(frames[1:2], name, 2, seed=1, key="v", indices=[6])  # frame 6 sampled on its own
    np.testing.assert_array_equal(alone[0], a[1])


def test_saturation_scales_chroma_by_the_parameter():
    img = colourful()
    ycc = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2YCrCb)
    for level, factor in zip(P.LEVELS, (0.4, 0.3, 0.2, 0.1, 0.0)):
        out = cv2.cvtColor(P.perturb_frame(img, "saturation", level).astype(np.float32) / 255, cv2.COLOR_RGB2YCrCb)
        chroma_in, chroma_out = ycc[..., 1:] - 0.5, out[..., 1:] - 0.5
        assert np.abs(chroma_out).mean() == pytest.approx(factor * np.abs(chroma_in).mean(), abs=0.004)
        assert np.abs(out[..., 0] - ycc[..., 0]).mean() < 0.004  # luma kept
    grey = P.perturb_frame(img, "saturation", 5)
    assert np.abs(grey.astype(int) - grey[..., :1]).max() <= 1


def test_contrast_scales_values_by_the_parameter():
    img = colourful()
    for level, factor in zip(P.LEVELS, (0.85, 0.725, 0.6, 0.475, 0.35)):
        out = P.perturb_frame(img, "contrast", level)
        np.testing.assert_allclose(out.astype(float), img * factor, atol=0.51)


def test_block_puts_that_many_grey_squares():
    img = np.full((300, 400, 3), 30, np.uint8)  # short side 300: one unit of 256 px
    for level, n in zip(P.LEVELS, (16, 32, 48, 64, 80)):
        out = P.perturb_frame(img, "block", level, P.frame_rng(0, "k", 0, "block", level))
        changed = np.any(out != img, axis=2)
        assert set(np.unique(out[changed])) == {128}
        assert 64 * n * 0.7 <= changed.sum() <= 64 * n  # squares may overlap
    big = np.full((600, 800, 3), 30, np.uint8)  # short side 600: two units -> twice the squares
    out = P.perturb_frame(big, "block", 1, P.frame_rng(0, "k", 0, "block", 1))
    assert 64 * 32 * 0.7 <= np.any(out != big, axis=2).sum() <= 64 * 32
    with pytest.raises(FakebenchError, match="rng"):
        P.perturb_frame(img, "block", 1)


def test_noise_has_the_documented_spread():
    img = np.full((256, 256, 3), 128, np.uint8)
    ycc = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_RGB2YCrCb)
    for level, variance in zip((1, 2, 3, 4), (0.001, 0.002, 0.005, 0.01)):
        out = P.perturb_frame(img, "noise", level, P.frame_rng(0, "k", 0, "noise", level))
        diff = cv2.cvtColor(out.astype(np.float32) / 255, cv2.COLOR_RGB2YCrCb) - ycc
        # variance on studio swing: sd 9.4 .. 29.7 grey levels in Y, 9.2 .. 29.0 in Cr and Cb
        expected = np.sqrt(variance) * np.array([255 / 219, 255 / 224, 255 / 224])
        np.testing.assert_allclose(diff.reshape(-1, 3).std(0), expected, rtol=0.05)


def _clipped_sd(mean: float, sd: float, lo: float = 0.0, hi: float = 255.0) -> float:
    """The standard deviation of ``clip(N(mean, sd**2), lo, hi)``."""
    from math import erf, exp, pi, sqrt

    a, b = (lo - mean) / sd, (hi - mean) / sd
    cdf_a, cdf_b = 0.5 * (1 + erf(a / sqrt(2))), 0.5 * (1 + erf(b / sqrt(2)))
    pdf_a, pdf_b = exp(-a * a / 2) / sqrt(2 * pi), exp(-b * b / 2) / sqrt(2 * pi)
    inside = cdf_b - cdf_a
    m1 = lo * cdf_a + hi * (1 - cdf_b) + mean * inside + sd * (pdf_a - pdf_b)
    m2 = (lo**2 * cdf_a + hi**2 * (1 - cdf_b) + mean**2 * inside + 2 * mean * sd * (pdf_a - pdf_b)
          + sd**2 * (inside + a * pdf_a - b * pdf_b))
    return sqrt(m2 - m1**2)


def df10_noise_rgb_sd(variance: float, grey: float = 128.0) -> np.ndarray:
    """DeeperForensics-1.0's GNC on a flat grey frame: the R, G, B residual sd in grey levels, from its formula.

    DF-1.0 adds N(0, variance) to Y, Cb and Cr on a 0..1 scale of studio swing (Y 16..235, chroma 16..240 of 255),
    converts back to full-range RGB (BT.601) and clips to 0..255.
    """
    sd = 255 * np.sqrt(variance)
    sd_y, sd_c = sd * 255 / 219, sd * 255 / 224  # in full-range grey levels
    rgb = [np.hypot(sd_y, 1.403 * sd_c),  # R = Y + 1.403 Cr
           np.sqrt(sd_y**2 + (0.714**2 + 0.344**2) * sd_c**2),  # G = Y - 0.714 Cr - 0.344 Cb
           np.hypot(sd_y, 1.773 * sd_c)]  # B = Y + 1.773 Cb
    return np.array([np.hypot(_clipped_sd(grey, s), np.sqrt(1 / 12)) for s in rgb])  # + rounding to integers


def test_noise_matches_deeperforensics_strength_in_rgb():
    img = np.full((512, 512, 3), 128, np.uint8)
    for level, variance in zip(P.LEVELS, (0.001, 0.002, 0.005, 0.01, 0.05)):
        out = P.perturb_frame(img, "noise", level, P.frame_rng(0, "k", 0, "noise", level))
        residual_sd = (out.astype(float) - img).reshape(-1, 3).std(0)
        # level 1: about 15.9, 11.9, 18.8; level 5 (a quarter of the values clipped): about 87, 74, 93
        np.testing.assert_allclose(residual_sd, df10_noise_rgb_sd(variance), atol=0.3, err_msg=f"level {level}")


def test_blur_is_a_gaussian_of_the_documented_width():
    img = np.zeros((41, 81, 3), np.uint8)
    img[:, 40:] = 255  # a step: the blurred step's slope is the Gaussian itself
    for level, k in zip(P.LEVELS, (7, 9, 13, 17, 21)):
        out = P.perturb_frame(img, "blur", level)
        np.testing.assert_array_equal(out, cv2.GaussianBlur(img, (k, k), k / 6))
        slope = np.diff(out[20, :, 0].astype(float))
        slope /= slope.sum()
        centre = (slope * np.arange(80)).sum()
        sd = np.sqrt((slope * (np.arange(80) - centre) ** 2).sum())
        assert sd == pytest.approx(k / 6, rel=0.1)


def test_pixelate_keeps_only_the_shrunk_resolution():
    img = colourful(120, 120)
    for level, f in zip(P.LEVELS, (2, 3, 4, 5, 6)):
        out = P.perturb_frame(img, "pixelate", level)
        small = cv2.resize(img, (120 // f, 120 // f), interpolation=cv2.INTER_LINEAR)
        np.testing.assert_array_equal(out, cv2.resize(small, (120, 120), interpolation=cv2.INTER_LINEAR))


@pytest.mark.parametrize("name", ["jpeg", "h264"])
def test_compression_gets_worse_with_the_level(name):
    frames = np.stack([colourful(96, 128, seed=i) for i in range(6)])
    quality = [psnr(frames, P.perturb_frames(frames, name, level, fps=10)) for level in P.LEVELS]
    assert all(a > b for a, b in zip(quality, quality[1:])), quality
    assert 20 < quality[-1] < quality[0] < 60


def test_h264_roundtrip_is_the_documented_crf(tmp_path):
    frames = np.stack([colourful(96, 128, seed=i) for i in range(5)])
    ours = P.perturb_frames(frames, "h264", 3, fps=10)
    direct = read_video(write_video(tmp_path / "x.mp4", frames, fps=10, codec="h264", crf=35)).frames
    np.testing.assert_array_equal(ours, direct)


def test_write_perturbed_writes_sampled_frames_losslessly(tmp_path):
    frames = synthetic_frames(12, 48, 64)
    src = write_video(tmp_path / "src.mkv", frames, fps=10, codec="ffv1")
    out, numbers = P.write_perturbed(src, tmp_path / "p.mkv", "noise", 2, np.array([1, 4, 9]), seed=0, key="k")
    np.testing.assert_array_equal(numbers, [1, 4, 9])
    expected = P.perturb_frames(frames[[1, 4, 9]], "noise", 2, seed=0, key="k", indices=[1, 4, 9])
    np.testing.assert_array_equal(read_video(out).frames, expected)
    out, numbers = P.write_perturbed(src, tmp_path / "h.mp4", "h264", 1, np.array([2, 5]), start=2, stop=8)
    np.testing.assert_array_equal(numbers, np.arange(2, 8))  # the whole range is re-encoded, as an upload would be


def test_unknown_names_and_levels_are_refused():
    with pytest.raises(ConfigError, match="did you mean 'jpeg'"):
        P.check("jepg", 1)
    with pytest.raises(ConfigError, match="level 6"):
        P.check("blur", 6)
    with pytest.raises(FakebenchError, match="uint8"):
        P.perturb_frames(np.zeros((2, 3, 8, 8), np.float32), "blur", 1)
