"""Edge/blending-artifact CNN, trained WITHOUT deepfakes: on real faces blended with themselves.

The detector is a ``CNNDetector`` trained on real crops and their self-blends (``fit``; the blends
come from ``detect.selfblend``: SBI- and FWA-style), with an optional second head that predicts the
blending boundary (Face X-ray). It never sees a deepfake.
"""

from __future__ import annotations

from dataclasses import dataclass

from fakebench.detect.base import DETECTORS
from fakebench.detect.cnn import CNNConfig, CNNDetector
from fakebench.detect.selfblend import Blend, self_blend

__all__ = ["ArtifactConfig", "ArtifactDetector", "Blend", "self_blend"]


@dataclass(frozen=True)
class ArtifactConfig(CNNConfig):
    """``CNNConfig`` with the blending-boundary head on by default."""

    aux_boundary: bool = True


DEFAULT_CONFIG = ArtifactConfig()


@DETECTORS.register("artifacts")
class ArtifactDetector(CNNDetector):
    """Blending-boundary CNN trained on self-blended real faces only (SBI + FWA); never sees a deepfake."""

    name = "artifacts"
    config_class = ArtifactConfig
    trains_on = "real"
