"""Similarity alignment: Umeyama on known transforms, the template, anti-aliased warps, paste-back."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fakebench.faces.align import (
    TEMPLATE_5,
    align_face,
    invert_affine,
    paste_back,
    template,
    transform_points,
    umeyama,
    warp_face,
)


def similarity(scale: float, angle_deg: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]],
                    np.float32)


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(1)
    src = rng.uniform(0, 300, (5, 2)).astype(np.float32)
    truth = similarity(0.37, 23.0, -41.0, 12.5)
    dst = transform_points(src, truth)
    assert np.allclose(umeyama(src, dst), truth, atol=1e-4)


def test_umeyama_never_reflects():
    rng = np.random.default_rng(2)
    src = rng.uniform(0, 100, (5, 2)).astype(np.float32)
    mirrored = src * np.array([-1, 1], np.float32) + rng.normal(0, 3, (5, 2)).astype(np.float32)
    m = umeyama(src, mirrored)
    assert np.linalg.det(m[:, :2]) >= 0  # a mirror image is not a similarity: best fit shrinks, never flips


def test_umeyama_refuses_mismatched_points():
    with pytest.raises(ValueError, match=r"expected two \(K,2\) point sets"):
        umeyama(np.zeros((5, 2)), np.zeros((4, 2)))


def test_margin_shrinks_the_template_towards_the_centre():
    tight, wide = template(128, 0.0), template(128, 0.5)
    assert np.allclose(tight, TEMPLATE_5 * 128)
    assert np.allclose(wide - 64, (tight - 64) / 2, atol=1e-4)
    with pytest.raises(ValueError):
        template(4)
    with pytest.raises(ValueError):
        template(64, -0.1)


def test_inverse_affine_round_trips_points():
    m = similarity(1.7, -12, 30, -8)
    pts = np.array([[3.0, 4.0], [100.0, 50.0]], np.float32)
    back = transform_points(transform_points(pts, m), invert_affine(m))
    assert np.allclose(back, pts, atol=1e-4)


def test_aligned_points_land_on_the_template():
    truth = similarity(0.8, 15, 40, 20)
    face_points = transform_points(template(256, 0.25), invert_affine(truth))
    frame = np.zeros((400, 400, 3), np.uint8)
    crop, affine = align_face(frame, face_points, size=256, margin=0.25)
    assert crop.shape == (256, 256, 3)
    assert np.allclose(transform_points(face_points, affine), template(256, 0.25), atol=1e-3)


def gaussian_dot(h: int, w: int, x: float, y: float, sigma: float) -> np.ndarray:
    yy, xx = np.mgrid[:h, :w]
    g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2))
    return np.dstack([(g * 255).astype(np.uint8)] * 3)


def centroid(image: np.ndarray) -> np.ndarray:
    w = image[..., 0].astype(float)
    yy, xx = np.mgrid[: image.shape[0], : image.shape[1]]
    return np.array([(w * xx).sum() / w.sum(), (w * yy).sum() / w.sum()])


@pytest.mark.parametrize("scale", [0.9, 0.4, 0.2, 0.09])
def test_shrinking_warp_puts_content_where_the_affine_says(scale):
    frame = gaussian_dot(900, 900, 431.3, 407.6, sigma=2.5 / scale)
    affine = similarity(scale, 7, 64 - 431.3 * scale, 60 - 407.6 * scale)
    crop = warp_face(frame, affine, 128)
    expected = transform_points(np.array([[431.3, 407.6]], np.float32), affine)[0]
    assert np.linalg.norm(centroid(crop) - expected) < 0.15


def test_shrinking_warp_does_not_alias():
    stripes = np.zeros((600, 600, 3), np.uint8)
    stripes[:, ::2] = 255  # one-pixel stripes: pure aliasing if sampled without a low-pass
    affine = similarity(0.13, 0, 0, 0)
    ours = warp_face(stripes, affine, 64)
    naive = cv2.warpAffine(stripes, affine, (64, 64), flags=cv2.INTER_LINEAR)
    assert abs(ours.mean() - 127.5) < 8 and ours.std() < 10  # a flat mid-gray
    assert naive.std() > 60  # what sampling without a low-pass gives


def test_warp_near_the_frame_edge_reflects_like_warpaffine():
    rng = np.random.default_rng(0)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (300, 300, 3)).astype(np.uint8), (0, 0), 8)
    affine = similarity(0.45, 0, 20, 20)  # crop reaches past the top-left corner
    ours = warp_face(frame, affine, 128).astype(int)
    plain = cv2.warpAffine(frame, affine, (128, 128), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    assert np.abs(ours - plain.astype(int)).mean() < 2.0


def test_paste_back_puts_the_crop_where_it_came_from():
    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (240, 320, 3)).astype(np.uint8), (0, 0), 3)
    points = np.array([[140, 110], [180, 108], [160, 130], [145, 150], [177, 149]], np.float32)
    crop, affine = align_face(frame, points, size=256, margin=0.25)  # an enlarging crop: little is lost
    restored = paste_back(np.zeros_like(frame), crop, affine)
    inner = np.zeros(frame.shape[:2], bool)
    inner[105:150, 145:180] = True
    assert np.abs(restored.astype(int) - frame)[inner].mean() < 2.0
    assert restored[5, 5].sum() == 0  # outside the crop nothing changes


def test_paste_back_blends_by_the_mask():
    frame = np.full((100, 100, 3), 10, np.uint8)
    crop = np.full((32, 32, 3), 210, np.uint8)
    affine = similarity(1.0, 0, -30, -30)  # crop = frame[30:62, 30:62]
    mask = np.zeros((32, 32), np.float32)
    mask[8:24, 8:24] = 0.5
    out = paste_back(frame, crop, affine, mask)
    assert out[46, 46, 0] == 110  # half way between 10 and 210
    assert out[31, 31, 0] == 10 and out[80, 80, 0] == 10
