"""Data set layouts, one file each, registered by the explicit imports below (no folder scanning)."""

from fakebench.datasets.layouts import (  # noqa: F401 - importing registers the layout
    celebdf,
    deeperforensics,
    dfdc,
    ff,
    folder,
    generated,
    sample_media,
)
from fakebench.datasets.layouts.base import LAYOUTS, Layout

__all__ = ["LAYOUTS", "Layout"]
