"""Shared fixtures: an isolated cache that still sees the real sample media, and small media files.

Every test session gets its own ``FAKEBENCH_CACHE`` (face caches, hash memos) whose ``samples``
folder links to the real cache, so the sample media are fetched once per machine and tests never
write into the user's cache. Real-media tests use ``sample(...)``: it skips with the reason when
the media were not fetched, and fails instead under ``make test`` (``FAKEBENCH_REQUIRE_MEDIA=1``).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
# Tests run tiny models, often beside other jobs: sleeping OpenMP threads keep them from spinning
# (a tiny training step took 2.2 s spinning vs 0.18 s passive on a shared 2-core machine). Not the
# program's default: on an idle machine passive waits cost the real generator ~25 % (BENCHMARKS.md).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from fakebench.files import cache_root  # noqa: E402

REAL_CACHE = cache_root()


@pytest.fixture(scope="session", autouse=True)
def isolated_cache(tmp_path_factory) -> Path:
    cache = tmp_path_factory.mktemp("fakebench-cache")
    real_samples = REAL_CACHE / "samples"
    real_samples.mkdir(parents=True, exist_ok=True)
    (cache / "samples").symlink_to(real_samples, target_is_directory=True)
    old = os.environ.get("FAKEBENCH_CACHE")
    os.environ["FAKEBENCH_CACHE"] = str(cache)
    yield cache
    if old is None:
        os.environ.pop("FAKEBENCH_CACHE", None)
    else:
        os.environ["FAKEBENCH_CACHE"] = old


@pytest.fixture(autouse=True)
def fakebench_logger_propagates():
    """``fakebench.cli.main`` gives the ``fakebench`` logger its own stderr handler and stops
    propagation; put it back after each test so ``caplog`` sees warnings in any test order."""
    import logging

    logger = logging.getLogger("fakebench")
    yield
    logger.handlers[:] = []
    logger.propagate = True
    logger.setLevel(logging.NOTSET)


def sample(sample_id: str) -> list[Path]:
    """Paths of a fetched sample, or skip (fail under ``make test``) when it is not fetched."""
    from fakebench.datasets import samples

    if not samples.is_cached(sample_id):
        reason = f"sample {sample_id} is not fetched: run `fakebench samples fetch` (make test does)"
        if os.environ.get("FAKEBENCH_REQUIRE_MEDIA"):
            pytest.fail(reason)
        pytest.skip(reason)
    return samples.sample_paths(sample_id)


def synthetic_frames(n: int = 12, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """``uint8 (n,h,w,3) RGB``: smooth gradients with a bright square moving one pixel per frame,
    and each frame's mean level set by its index (frame i is recognisable after lossy coding)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    base = np.stack([xx * 255 / w, yy * 255 / h, np.full((h, w), 128.0)], axis=2)
    frames = []
    for i in range(n):
        f = base.copy()
        f[..., 2] = 20 + i * 200 / max(n - 1, 1)
        x0 = 4 + i
        f[10:20, x0:x0 + 10] = 250
        f += rng.normal(0, 1.0, f.shape)
        frames.append(np.clip(f, 0, 255).astype(np.uint8))
    return np.stack(frames)


@pytest.fixture
def small_video(tmp_path) -> tuple[Path, np.ndarray]:
    """A 12-frame 64x48 mp4 written with OpenCV directly (independent of fakebench.media)."""
    frames = synthetic_frames()
    path = tmp_path / "small.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path, frames
