"""Deepfake detectors behind one interface (``base.Detector``), named in ``DETECTORS``.

Each detector is one module listed in ``DETECTOR_MODULES``; importing it registers the detector.
The list is imported on first use of ``DETECTORS``/``build`` (``from fakebench.detect import ...``),
not when the package is imported, so ``fakebench --help`` does not load OpenCV, SciPy or dlib.
"""

from __future__ import annotations

from importlib import import_module

DETECTOR_MODULES = ("artifacts", "blink", "classifier")
__all__ = ["DETECTORS", "Detector", "FaceRequest", "VideoScore", "aggregate", "build", "load_detectors"]


def load_detectors() -> None:
    """Import every detector module (each registers itself); cheap after the first call."""
    for name in DETECTOR_MODULES:
        import_module(f"fakebench.detect.{name}")


def __getattr__(name: str):
    if name in __all__:
        load_detectors()
        return getattr(import_module("fakebench.detect.base"), name)
    raise AttributeError(f"module 'fakebench.detect' has no attribute {name!r}")
