"""Generator training speed: a whole ``Trainer.train_step`` against the raw model step, one run.

Ours draws and warps a fresh batch (grid warp, flip, affine jitter, colour), runs the shared encoder
and both decoders under the configured precision, the L1 + SSIM + priority loss, backward and Adam.
The raw side reuses one ready batch and runs only ``forward_each`` + plain L1 + backward + Adam on the
same model size: the ratio is what the data pipeline and the loss cost on top of the network. Rounds
are interleaved; the ratio is the median of per-round ratios. Faces: frames 0-480 of A and of B's
first clip, every 4th (the demo's face cache). Checked: both sides train the same batch shape, our
step draws fresh data, counts its steps, moves the weights, and reports finite per-identity losses
that add up to the total.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch

from fakebench.generate.data import DataConfig, Source
from fakebench.generate.train import TrainConfig, Trainer
from tests.conftest import sample

pytestmark = pytest.mark.media


@pytest.fixture(scope="module")
def trainer(tmp_path_factory):
    sources = {"a": [Source(str(sample("A")[0]), 0, 480)], "b": [Source(str(sample("B")[0]), 0, 480)]}
    config = TrainConfig(data=DataConfig(min_faces=32), save_every=10_000, val_every=10_000, preview_every=10_000)
    t = Trainer(config, tmp_path_factory.mktemp("gen-perf") / "run", device="cpu", progress=False).setup(sources)
    yield t
    t.close()


def test_training_step_vs_raw_model_step(benchmark, trainer):
    cfg = trainer.config
    model, optimizer = trainer.model, trainer.optimizer
    x, y, _ = trainer._batch()
    faces = cfg.batch * len(cfg.model.identities)
    assert x.shape[0] == y.shape[0] == faces and x.shape[1:] == y.shape[1:]

    def raw():
        with trainer._autocast():
            out = model.forward_each(x, cfg.batch)
        loss = (out.float() - y).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    start = trainer.step_count
    trainer.train_step()
    raw()
    ratios, ours_t, raw_t = [], [], []
    for _ in range(5 if benchmark.enabled else 1):
        t = time.perf_counter()
        raw()
        raw_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        losses = trainer.train_step()
        ours_t.append(time.perf_counter() - t)
        ratios.append(raw_t[-1] / ours_t[-1])
    weights = [q.detach().clone() for q in model.parameters()]
    drawn = trainer.rng_state()
    benchmark.pedantic(trainer.train_step, rounds=1)
    benchmark.extra_info.update({"ratio_ours_over_raw_speed": round(statistics.median(ratios), 3),
                                 "ours_faces_per_s": round(faces / statistics.median(ours_t), 1),
                                 "raw_faces_per_s": round(faces / statistics.median(raw_t), 1),
                                 "precision": trainer.precision, "threads": torch.get_num_threads()})
    assert trainer.step_count == start + len(ratios) + 2  # warm-up, the timed rounds, the benchmark call
    assert trainer.rng_state() != drawn  # the step drew a fresh batch (the cost the ratio measures)
    assert any(not torch.equal(a, b) for a, b in zip(weights, model.parameters()))
    assert set(losses) == {"loss", *(f"loss_{name}" for name in cfg.model.identities)}
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    parts = sum(v for k, v in losses.items() if k != "loss")
    assert losses["loss"] == pytest.approx(parts, rel=1e-4)
