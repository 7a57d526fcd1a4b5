"""dlib's 68-point face landmarks (and the path to dlib's model files).

The 68-point model ships in ``face-recognition-models``; its training data (iBUG 300-W) excludes
commercial use. Points are ``float32 (68,2)`` pixel ``(x, y)`` in the frame, in the iBUG order:
jaw 0-16, brows 17-26, nose 27-35, eyes 36-41 (image left) and 42-47 (image right), mouth 48-67.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from fakebench.errors import FakebenchError

LEFT_EYE = slice(36, 42)   # the eye on the image's left (the person's right eye)
RIGHT_EYE = slice(42, 48)
MOUTH = slice(48, 68)
JAW = slice(0, 17)


def dlib_model_path(name: str) -> Path:
    """Path of a model file shipped by ``face-recognition-models`` (found without importing it:
    its ``__init__`` needs ``pkg_resources``, which new setuptools no longer has)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FakebenchError("face-recognition-models is not installed: run `make test` or `pip install -e .`")
    path = Path(list(spec.submodule_search_locations)[0]) / "models" / name
    if not path.is_file():
        raise FakebenchError(f"{path} is missing: reinstall face-recognition-models==0.3.0")
    return path


def dlib_box(box: np.ndarray) -> tuple[int, int, int, int]:
    """The square box dlib's predictor expects, from an MTCNN box.

    dlib's 68-point model was trained on its HOG detector's boxes, which are square and sit lower
    than MTCNN's (no forehead). Fitted on 299 sample-media frames where both detectors found the
    face: side = 0.92 * sqrt(w*h), centre 0.05 side below the MTCNN box centre.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    side = 0.92 * np.sqrt(max(x2 - x1, 1.0) * max(y2 - y1, 1.0))
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2 + 0.05 * side
    half = side / 2
    return int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half))


class LandmarkPredictor:
    """68-point landmarks of one face given its box (dlib's model loads on first use)."""

    def __init__(self):
        self._predictor = None

    def predict(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        """``float32 (68,2)`` landmarks of the face in ``box`` (x1,y1,x2,y2) of a ``uint8 (H,W,3)`` frame."""
        import dlib

        if self._predictor is None:
            self._predictor = dlib.shape_predictor(str(dlib_model_path("shape_predictor_68_face_landmarks.dat")))
        shape = self._predictor(np.ascontiguousarray(frame), dlib.rectangle(*dlib_box(box)))
        return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)


def eye_centres(landmarks: np.ndarray) -> np.ndarray:
    """``(2,2)``: centre of the image-left eye, then the image-right eye, from 68 points."""
    return np.stack([landmarks[LEFT_EYE].mean(0), landmarks[RIGHT_EYE].mean(0)])


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """The 5 alignment points (eyes, nose tip, mouth corners) taken from 68 landmarks."""
    return np.concatenate([eye_centres(landmarks), landmarks[[30, 48, 54]]]).astype(np.float32)
