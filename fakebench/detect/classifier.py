"""A timm classifier of real vs fake face crops, trained on fakes (generated sets or a public data set's).

``timm.create_model(backbone, num_classes=1)`` with the model's own data config (input size,
mean/std); frame scores are aggregated per video by the configured rule: mean (default), max, or
confident-frames (the mean of frames scored above 0.8 or below 0.2, as in the DFDC winning entry).
Training (``fit``) is ``CNNDetector``'s, on real and fake crops.
"""

from __future__ import annotations

from fakebench.detect.base import DETECTORS
from fakebench.detect.cnn import CNNDetector


@DETECTORS.register("classifier")
class ClassifierDetector(CNNDetector):
    """timm CNN trained on real and fake face crops; frame scores averaged per video."""

    name = "classifier"
    trains_on = "real+fake"
