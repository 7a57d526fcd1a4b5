"""CNN detector scoring speed against a raw ``model(x)`` forward of the same timm model, one run.

Both sides score the same 32 face crops per call: ours takes ``uint8 (N,224,224,3)`` crops and
returns probabilities (tensor conversion, normalisation, forward, sigmoid, numpy); the raw side
gets the already-normalised float tensor and only runs ``model(x)``. Rounds are interleaved and
the ratio is the median of per-round ratios (this machine's speed drifts between rounds). What is
checked: our probabilities are the sigmoid of the raw forward on crops normalised independently
with timm's data config, and a batch scores as its parts do.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import pytest
import torch

from fakebench.detect.classifier import ClassifierDetector
from fakebench.detect.cnn import CNNConfig

N = 32


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (N, 224, 224, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def detector() -> ClassifierDetector:
    return ClassifierDetector(config=CNNConfig(backbone="tf_efficientnet_lite0", input_size=224), device="cpu")


def test_detector_scoring_throughput(benchmark, detector, crops):
    first = detector.score_frames(crops[:4])
    scores = benchmark.pedantic(detector.score_frames, args=(crops,), rounds=3, warmup_rounds=1)
    assert scores.shape == (N,) and np.all((scores >= 0) & (scores <= 1))
    np.testing.assert_allclose(scores[:4], first, atol=1e-5)  # the batch of 32 scores its first 4 as they alone do
    if benchmark.stats:
        benchmark.extra_info["crops_per_s"] = round(N / benchmark.stats.stats.median, 1)


def test_ours_vs_raw_forward(benchmark, detector, crops):
    import timm

    model = detector.model
    x = detector.prepare(crops)
    data = timm.data.resolve_data_config({}, model=model)
    mean, std = (torch.tensor(data[k], dtype=torch.float32).view(1, 3, 1, 1) for k in ("mean", "std"))
    reference = (torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255 - mean) / std  # RGB, timm's normalisation
    torch.testing.assert_close(x, reference, atol=1e-4, rtol=0)

    def raw():
        with torch.inference_mode():
            return model(x)

    ratios, ours_t, raw_t = [], [], []
    for _ in range(5 if benchmark.enabled else 1):
        t = time.perf_counter()
        raw()
        raw_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        detector.score_frames(crops)
        ours_t.append(time.perf_counter() - t)
        ratios.append(raw_t[-1] / ours_t[-1])
    benchmark.pedantic(detector.score_frames, args=(crops,), rounds=1)
    benchmark.extra_info.update({"ratio_ours_over_raw_speed": round(statistics.median(ratios), 3),
                                 "ours_crops_per_s": round(N / statistics.median(ours_t), 1),
                                 "raw_crops_per_s": round(N / statistics.median(raw_t), 1)})
    with torch.inference_mode():
        raw_probabilities = torch.sigmoid(model(reference).float().squeeze(1)).numpy()
    ours = detector.score_frames(crops)
    assert raw_probabilities.std() > 1e-4  # the crops score differently: a mix-up of crops would show
    np.testing.assert_allclose(ours, raw_probabilities, atol=1e-5)
