"""fakebench's MTCNN cascade is facenet-pytorch's computation: the same resized pixels, the same boxes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.functional import interpolate

from fakebench.faces.detector import min_face_size_for
from fakebench.faces.mtcnn import Cascade, area_resize_boxes, area_resize_frames, integral_image
from fakebench.media import read_video
from tests.conftest import sample


def test_area_resizes_are_torch_area_interpolation():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 37, 53, 3), dtype=np.uint8)
    integral = integral_image(frames, "cpu")
    reference = torch.as_tensor(frames).permute(0, 3, 1, 2).float()
    for size in ((19, 27), (37, 53), (50, 61), (5, 4)):  # down, same, up, tiny
        torch.testing.assert_close(area_resize_frames(integral, *size), interpolate(reference, size=size, mode="area"),
                                   rtol=0, atol=1e-4)  # float rounding of a mean of integers, no more
    owner, y, x, h, w = (torch.tensor(v) for v in ([0, 2, 1], [0, 10, 30], [0, 5, 40], [37, 20, 7], [53, 11, 13]))
    for size in (24, 48):
        mine = area_resize_boxes(integral, owner, y, x, h, w, size)
        for k in range(3):
            crop = reference[owner[k], :, y[k]:y[k] + h[k], x[k]:x[k] + w[k]][None]
            torch.testing.assert_close(mine[k:k + 1], interpolate(crop, size=(size, size), mode="area"), rtol=0, atol=1e-4)


@pytest.mark.media
@pytest.mark.parametrize("name", ["A", "B", "C", "E"])
def test_the_cascade_finds_facenet_pytorchs_boxes_and_points(name):
    from facenet_pytorch import MTCNN

    frames = read_video(sample(name)[0], indices=range(0, 110, 7)).frames
    min_face = min_face_size_for(*frames.shape[1:3], 0.08)
    reference = MTCNN(keep_all=True, device="cpu", min_face_size=min_face, post_process=False)
    ref_boxes, ref_probs, ref_points = reference.detect(frames, landmarks=True)
    found = 0
    for (boxes, points), rb, rp, rpts in zip(Cascade().detect(frames, min_face), ref_boxes, ref_probs, ref_points):
        if rb is None:
            assert len(boxes) == 0
            continue
        order = np.argsort(-boxes[:, 4], kind="stable")  # facenet-pytorch's order: most confident first
        np.testing.assert_allclose(boxes[order, :4], np.asarray(list(rb), np.float32), atol=1e-3)
        np.testing.assert_allclose(boxes[order, 4], np.asarray(list(rp), np.float32), atol=1e-5)
        np.testing.assert_allclose(points[order], np.asarray(list(rpts), np.float32), atol=1e-3)
        found += len(boxes)
    assert found >= len(frames) * 0.8  # a face in (nearly) every frame: the comparison compared something
