"""Tiny models on tiny real crops: the first 120 frames of A and of B's first clip, every 5th frame."""

from __future__ import annotations

import pytest
import torch

from fakebench.generate.data import DataConfig, Source
from fakebench.generate.model import ModelConfig
from fakebench.generate.train import TrainConfig, Trainer
from tests.conftest import sample


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run best on one thread; on a shared 2-core machine two spinning OpenMP threads ran 15x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_config(**changes) -> TrainConfig:
    """A 64 px model of width 8 (~50 k parameters): a step takes milliseconds."""
    # warp_until=1: the resume test compares a prefetched batch (drawn inside fit's budget) with a fresh draw after it
    base = dict(model=ModelConfig(width=8, latent=32), data=DataConfig(stride=5, min_faces=8, gap=0.5), batch=4,
                lr=1e-3, precision="fp32", save_every=5, val_every=5, preview_every=5, log_every=1, warp_until=1.0)
    base.update(changes)
    return TrainConfig(**base)


@pytest.fixture(scope="session")
def tiny_sources() -> dict[str, list[Source]]:
    return {"a": [Source(str(sample("A")[0]), 0, 120)], "b": [Source(str(sample("B")[0]), 0, 120)]}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_sources):
    """A run folder trained for 10 steps (checkpoint, data.json, log, preview)."""
    run = tmp_path_factory.mktemp("gen") / "run"
    Trainer(tiny_config(), run, device="cpu", progress=False).setup(tiny_sources).fit(steps=10)
    return run
