"""Swap methods: the part of making a fake that differs from one generator to the next, named in ``METHODS``.

``convert.convert_with`` runs one loop for every method: decode the driving segment, write the
video (``VideoWriter``), the masks (``MaskWriter``) and the manifest (``provenance``). A method is
what that loop asks for, per segment and per frame (``SwapMethod``); so masks, manifests and
provenance have one schema whatever made the fake. Each method is one module listed in
``METHOD_MODULES`` whose class carries ``@METHODS.register(name)``; the modules are imported on
first use (``build``, ``load_methods``), so ``fakebench --help`` loads neither torch nor OpenCV.

    autoencoder   convert.Swapper: a trained run's shared encoder and the ``to`` identity's decoder
    graphics      graphics.GraphicsSwap: a donor video's face warped onto the driving landmarks
                  (Delaunay triangles) and Poisson-blended; no training (FaceForensics++'s FaceSwap)
"""

from __future__ import annotations

import inspect
from importlib import import_module
from typing import TYPE_CHECKING, ClassVar, Protocol

from fakebench.errors import ConfigError
from fakebench.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from fakebench.faces import FaceExtractor
    from fakebench.faces.track import FaceTrack
    from fakebench.generate.convert import ConvertSettings

METHODS: Registry[type] = Registry("swap method")
METHOD_MODULES = ("convert", "graphics")
_SHARED = ("settings", "device")  # options every method takes; the rest are its own


class SwapMethod(Protocol):
    """What the convert loop needs of a method (frames are ``uint8 (H,W,3) RGB``, masks ``uint8 (H,W)`` 0/255)."""

    name: ClassVar[str]  # the manifest's "method", the same as the registry name
    default_settings: ClassVar[ConvertSettings]  # what the command line starts from (the blend differs)
    settings: ConvertSettings
    source: str  # who is pasted in: the manifest's identities.source

    def extractor(self) -> FaceExtractor:
        """The face pipeline that tracks the driving video's face."""

    def target(self, video_sha: str, start: int, stop: int, driving: str | None) -> str:
        """Who is in the driving video (``driving``: what the user said, or None)."""

    def begin(self, track: FaceTrack, *, progress: bool = False) -> None:
        """Per-segment work before the first frame is rendered (a batched model pass, the donor choice)."""

    def render(self, i: int, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sample ``i`` of the track (it has a face), swapped: the new frame and its mask."""

    def describe(self) -> dict:
        """The manifest entries this method owns: ``settings`` and ``run``/``checkpoint`` or ``donor``."""


def load_methods() -> None:
    """Import every method module (each registers itself); cheap after the first call."""
    for module in METHOD_MODULES:
        import_module(f"fakebench.generate.{module}")


def build(name: str, **options) -> SwapMethod:
    """The method ``name`` made from its constructor's keyword ``options`` (``None`` = not given).

    An option the method does not take, or a required one left out, is a ``ConfigError`` naming the
    command-line flag (``donor_start`` -> ``--donor-start``).
    """
    load_methods()
    cls = METHODS.get(name)
    given = {key: value for key, value in options.items() if value is not None}
    takes = _own_options(cls)
    for key in given:
        if key not in takes and key not in _SHARED:
            owner = [m for m in METHODS.names() if key in _own_options(METHODS.get(m))]
            raise ConfigError(f"{_flag(key)} does not apply to --method {name}"
                              f"{f' (it is an option of --method {owner[0]})' if owner else ''}; "
                              f"--method {name} takes {', '.join(map(_flag, takes))}")
    missing = [key for key, required in takes.items() if required and key not in given]
    if missing:
        raise ConfigError(f"--method {name} needs {' and '.join(map(_flag, missing))}")
    return cls(**given)


def _own_options(cls: type) -> dict[str, bool]:
    """``{option: required}`` of a method's constructor, without the shared ones."""
    params = inspect.signature(cls).parameters
    return {k: p.default is inspect.Parameter.empty for k, p in params.items() if k not in _SHARED}


def _flag(option: str) -> str:
    return "--" + option.replace("_", "-")
