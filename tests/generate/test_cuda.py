"""The CUDA path (bf16 autocast, channels_last, warp threads, optional compile): runs only where torch sees a GPU."""

from __future__ import annotations

import math

import pytest
import torch

from fakebench.generate.convert import convert
from fakebench.generate.train import Trainer
from tests.conftest import sample
from tests.generate.conftest import tiny_config

pytestmark = [pytest.mark.media, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("compile_", [False, True])
def test_bf16_channels_last_training_steps_on_cuda(tmp_path, tiny_sources, compile_):
    trainer = Trainer(tiny_config(precision="auto", compile=compile_), tmp_path / "run", device="cuda",
                      progress=False).setup(tiny_sources)
    assert trainer.precision == "bf16" and trainer._pool is not None
    conv = trainer.model.encoder.convs[0][0].weight
    assert conv.is_cuda and conv.is_contiguous(memory_format=torch.channels_last)
    losses = [trainer.fit(steps=s).loss for s in (5, 10)]
    assert all(math.isfinite(v) for v in losses)
    trainer.close()


def test_convert_on_cuda(tiny_run, tmp_path):
    manifest = convert(tiny_run, sample("A")[0], to="b", out=tmp_path / "f.mp4", start=0, stop=4, device="cuda",
                       progress=False)
    assert manifest["frames"] == 4 and manifest["frames_swapped"] == 4
