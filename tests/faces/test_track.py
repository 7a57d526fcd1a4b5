"""Which face is followed: largest first, then by overlap, and what happens when it is lost."""

from __future__ import annotations

import numpy as np

from fakebench.faces.detector import Detections
from fakebench.faces.track import LargestFaceTracker, iou


def dets(*boxes) -> Detections:
    b = np.array(boxes, np.float32).reshape(-1, 4)
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    order = np.argsort(-area, kind="stable")
    return Detections(b[order], np.ones(len(b), np.float32), np.zeros((len(b), 5, 2), np.float32))


def test_iou():
    assert iou(np.array([0, 0, 10, 10.0]), np.array([[0, 0, 10, 10.0], [5, 0, 15, 10], [20, 20, 30, 30]])).tolist() == [
        1.0, 1 / 3, 0.0]


def test_starts_on_the_largest_face_and_keeps_it_when_another_grows():
    tracker = LargestFaceTracker()
    first = dets([100, 100, 200, 200], [10, 10, 40, 40])
    assert first.boxes[tracker.update(first)].tolist() == [100, 100, 200, 200]
    # a bystander walks closer and becomes larger; the tracked face moved a little
    later = dets([105, 102, 205, 202], [0, 0, 150, 150])
    assert later.boxes[tracker.update(later)].tolist() == [105, 102, 205, 202]


def test_lost_face_gives_minus_one_and_is_found_again_nearby():
    tracker = LargestFaceTracker()
    tracker.update(dets([100, 100, 200, 200]))
    assert tracker.update(Detections.empty()) == -1
    # reappears shifted by half a face width with no overlap to speak of: nearest wins
    again = dets([400, 0, 560, 160], [150, 150, 230, 230])
    assert again.boxes[tracker.update(again)].tolist() == [150, 150, 230, 230]


def test_far_jump_falls_back_to_the_largest_face():
    tracker = LargestFaceTracker()
    tracker.update(dets([0, 0, 50, 50]))
    far = dets([500, 500, 560, 560], [300, 300, 320, 320])
    assert far.boxes[tracker.update(far)].tolist() == [500, 500, 560, 560]
