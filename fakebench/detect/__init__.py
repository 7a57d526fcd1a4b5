"""Deepfake detectors behind one interface (``base.Detector``), named in ``DETECTORS``.

Each detector is one module registered by its import here; ``build(name)`` makes one.
"""

from fakebench.detect import artifacts, blink, classifier  # noqa: F401  (each registers its detector)
from fakebench.detect.base import DETECTORS, Detector, FaceRequest, VideoScore, aggregate, build

__all__ = ["DETECTORS", "Detector", "FaceRequest", "VideoScore", "aggregate", "build"]
