"""A timm classifier of real vs fake face crops, trained on fakes (generated sets or a public data set's).

``timm.create_model(backbone, num_classes=1)`` with the model's own data config (input size,
mean/std); frame scores are aggregated per video by the configured rule: mean (default), max, or
confident-frames (the mean of frames scored above 0.8 or below 0.2, as in the DFDC winning entry).
"""

from __future__ import annotations

from fakebench.detect.base import DETECTORS
from fakebench.detect.cnn import CNNDetector
from fakebench.errors import FakebenchError


@DETECTORS.register("classifier")
class ClassifierDetector(CNNDetector):
    """timm CNN trained on real and fake face crops; frame scores averaged per video."""

    name = "classifier"

    def fit(self, real, fake, out, config=None, *, progress: bool = True) -> dict:
        """Train on ``real`` and ``fake`` ``FaceSet``s; see ``detect.training``."""
        from fakebench.detect.training import TrainConfig, fit_detector

        if fake is None or len(fake) == 0:
            raise FakebenchError("the classifier learns real vs fake, so it needs fake faces (--fake PATH...: generated "
                                 "videos or a data set's fakes); the artifacts detector trains on reals alone")
        return fit_detector(self, real=real, fake=fake, out=out, config=config or TrainConfig(), progress=progress)
