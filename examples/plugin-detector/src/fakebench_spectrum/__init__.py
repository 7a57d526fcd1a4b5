"""An example fakebench detector plug-in (see detector.py and the README next to pyproject.toml)."""

from fakebench_spectrum.detector import SpectrumConfig, SpectrumDetector

__all__ = ["SpectrumConfig", "SpectrumDetector"]
