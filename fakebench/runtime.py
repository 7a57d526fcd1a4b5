"""Seeding, device choice and the environment record every run folder carries."""

from __future__ import annotations

import os
import platform
import random
import subprocess
import sys
from importlib import metadata

import numpy as np

from fakebench.errors import FakebenchError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed ``random``, numpy and torch (CPU and CUDA); return a numpy Generator from the same seed."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    return np.random.default_rng(seed)


def resolve_device(device: str = "auto") -> str:
    """Turn ``auto|cpu|cuda`` (or ``cuda:N``) into a device torch accepts; refuse CUDA when there is none."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return "cpu"
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise FakebenchError(
                f"--device {device} was asked for but torch sees no CUDA device: use --device cpu or auto"
            )
        return device
    raise FakebenchError(f"unknown device {device!r}: expected one of {', '.join(DEVICE_CHOICES)}")


_PACKAGES = ("torch", "torchvision", "timm", "facenet-pytorch", "dlib-bin", "opencv-python-headless",
             "numpy", "scikit-learn", "pandas", "imageio-ffmpeg")


def env_info(device: str | None = None, seed: int | None = None) -> dict:
    """What produced a result: git commit, package versions, Python, CPU/GPU, device, seed."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    info = {
        "fakebench": _fakebench_version(),
        "commit": _git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "device": device,
        "seed": seed,
    }
    try:
        import torch

        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    return info


def _fakebench_version() -> str:
    from fakebench import __version__

    return __version__


def _git_commit() -> str | None:
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        out = subprocess.run(["git", "-C", here, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None
