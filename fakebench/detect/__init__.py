"""Deepfake detectors behind one interface (``base.Detector``), made by one factory (``create``).

Built-in detectors are the modules in ``DETECTOR_MODULES``; importing one registers it in
``DETECTORS``. Plug-ins come from entry points or ``pkg.module:Class`` / ``file.py:Class`` names
(``detect.factory``). The modules are imported on first use (``from fakebench.detect import ...``),
not when the package is imported, so ``fakebench --help`` does not load OpenCV, SciPy or dlib.
"""

from __future__ import annotations

from importlib import import_module

DETECTOR_MODULES = ("artifacts", "blink", "classifier", "published", "provenance")
_FROM = {"DETECTORS": "base", "Detector": "base", "FaceRequest": "base", "VideoScore": "base", "aggregate": "base",
         "create": "factory", "resolve": "factory", "available": "factory", "judge": "score", "score_file": "score"}
__all__ = [*_FROM, "load_detectors"]


def load_detectors() -> None:
    """Import every built-in detector module (each registers itself); cheap after the first call."""
    for name in DETECTOR_MODULES:
        import_module(f"fakebench.detect.{name}")


def __getattr__(name: str):
    if name in _FROM:
        load_detectors()
        return getattr(import_module(f"fakebench.detect.{_FROM[name]}"), name)
    raise AttributeError(f"module 'fakebench.detect' has no attribute {name!r}")
