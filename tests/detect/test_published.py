"""The published-checkpoint adapters give the original networks' outputs.

No released file can be downloaded here, so each adapter is proven offline: the ORIGINAL
architecture is built with random weights (SBI's and DeepfakeBench's EfficientNet-B4 from the
``efficientnet-pytorch`` package, wrapped as their code wraps it; DeepfakeBench's Xception
re-implemented below from training/networks/xception.py, since no package has its key layout),
saved exactly as the released file is laid out, read through the adapter, and both must give the
same logits on the same input. The networks are fully convolutional, so a 160 px input checks
the padding at a size other than the nominal one quickly.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fakebench.detect.published import DFBConfig, DFBEfficientNetB4Detector, DFBXceptionDetector, SBIConfig, SBIDetector
from fakebench.detect.synthetic import blink_openness, synthetic_track
from fakebench.errors import CheckpointError

ATOL = 1e-4
SBI_NORM = (0.0, 1.0)  # mean, std of the input in [0, 1]: SBI's inference divides by 255 only
DFB_NORM = (0.5, 0.5)  # training/config/detector/{xception,efficientnetb4}.yaml


# -- the original architectures ----------------------------------------------------------------------
class SBIOriginal(nn.Module):
    """SBI's src/inference/model.py ``Detector``: the EfficientNet-B4 as ``net``."""

    def __init__(self):
        super().__init__()
        from efficientnet_pytorch import EfficientNet

        self.net = EfficientNet.from_name("efficientnet-b4", num_classes=2)  # from_pretrained(..., advprop) minus the download

    def forward(self, x):
        return self.net(x)


class DFBEfficientNetB4(nn.Module):
    """DeepfakeBench's training/networks/efficientnetb4.py in the "Original" mode, without dropout."""

    def __init__(self):
        super().__init__()
        from efficientnet_pytorch import EfficientNet

        self.efficientnet = EfficientNet.from_name("efficientnet-b4")
        self.efficientnet._conv_stem = nn.Conv2d(3, 48, kernel_size=3, stride=2, bias=False)
        self.efficientnet._fc = nn.Identity()
        self.last_layer = nn.Linear(1792, 2)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.efficientnet.extract_features(x), (1, 1)).flatten(1)
        return self.last_layer(x)


class SeparableConv2d(nn.Module):
    def __init__(self, cin, cout, kernel_size=1, stride=1, padding=0):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cin, kernel_size, stride, padding, 1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, 1, 0, 1, 1, bias=False)

    def forward(self, x):
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """An Xception block as DeepfakeBench builds it: the module list ``rep`` fixes the key indices."""

    def __init__(self, cin, cout, reps, stride=1, start_with_relu=True, grow_first=True):
        super().__init__()
        if cout != cin or stride != 1:
            self.skip = nn.Conv2d(cin, cout, 1, stride=stride, bias=False)
            self.skipbn = nn.BatchNorm2d(cout)
        else:
            self.skip = None
        rep, width = [], cin
        if grow_first:
            rep += [nn.ReLU(inplace=True), SeparableConv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout)]
            width = cout
        for _ in range(reps - 1):
            rep += [nn.ReLU(inplace=True), SeparableConv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width)]
        if not grow_first:
            rep += [nn.ReLU(inplace=True), SeparableConv2d(cin, cout, 3, 1, 1), nn.BatchNorm2d(cout)]
        rep = rep[1:] if not start_with_relu else [nn.ReLU(inplace=False), *rep[1:]]
        if stride != 1:
            rep.append(nn.MaxPool2d(3, stride, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, x):
        skip = self.skipbn(self.skip(x)) if self.skip is not None else x
        return self.rep(x) + skip


class DFBXception(nn.Module):
    """DeepfakeBench's training/networks/xception.py in the "original" mode (num_classes 2, no dropout)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.block1 = Block(64, 128, 2, 2, start_with_relu=False)
        self.block2 = Block(128, 256, 2, 2)
        self.block3 = Block(256, 728, 2, 2)
        for i in range(4, 12):
            setattr(self, f"block{i}", Block(728, 728, 3, 1))
        self.block12 = Block(728, 1024, 2, 2, grow_first=False)
        self.conv3 = SeparableConv2d(1024, 1536, 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(1536)
        self.conv4 = SeparableConv2d(1536, 2048, 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(2048)
        self.last_linear = nn.Linear(2048, 2)
        self.adjust_channel = nn.Sequential(nn.Conv2d(2048, 512, 1, 1), nn.BatchNorm2d(512), nn.ReLU(inplace=False))

    def features(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        for i in range(1, 13):
            x = getattr(self, f"block{i}")(x)
        x = self.relu(self.bn3(self.conv3(x)))
        return self.bn4(self.conv4(x))

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.relu(self.features(x)), (1, 1)).flatten(1)
        return self.last_linear(x)


class DFBDetector(nn.Module):
    """DeepfakeBench's ``XceptionDetector`` / ``EfficientDetector``: the network as ``backbone``
    (their losses hold no tensors, so the state dict is ``backbone.*`` only)."""

    def __init__(self, backbone: nn.Module):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone(x)


def images(n: int, size: int, seed: int) -> torch.Tensor:
    """``float32 (n,3,size,size)`` in [0, 1]: noise over a smooth colour wave that differs per image."""
    gen = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    out = []
    for _ in range(n):
        freq = torch.rand(3, 2, 1, 1, generator=gen) * 6
        wave = 0.5 + 0.4 * torch.sin(freq[:, 0] * xx + freq[:, 1] * yy)
        out.append(0.3 * wave + 0.7 * torch.rand(3, size, size, generator=gen))
    return torch.stack(out)


def randomised(model: nn.Module, seed: int, size: int, mean: float, std: float) -> nn.Module:
    """Random weights, and batch-norm statistics measured on ``images`` of ``size`` px normalised as the
    original normalises its input; eval mode.

    Default statistics (mean 0, variance 1) would hide a mixed-up BN and make a deep random net's
    output ignore its input, and statistics of other inputs make it chaotic (float32 round-off then
    grows to the size of a real mistake): measured ones keep the logits a few units, input-dependent.
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
                module.reset_running_stats()
                module.momentum = None  # a plain average over the calibration batch
            elif isinstance(module, nn.Conv2d | nn.Linear):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
        model.eval()
        for module in model.modules():  # only the BNs learn their statistics (no drop-connect, no dropout)
            module.train(isinstance(module, nn.BatchNorm2d))
        model((images(4, size, seed + 100) - mean) / std)
    return model.eval()


# -- the released files, laid out as the originals write them --------------------------------------
def sbi_release(path, size=96, seed=1):
    """src/train_sbi.py: ``{"model": Detector.state_dict(), "optimizer": ..., "epoch": ...}``."""
    pytest.importorskip("efficientnet_pytorch")
    model = randomised(SBIOriginal(), seed, size, *SBI_NORM)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)  # SBI's SAM wraps this SGD
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 99}, path)
    return model


def dfb_b4_release(path, size=96, seed=2, prefix=""):
    """training/trainer/trainer.py save_ckpt: the detector's bare state dict (``module.`` when trained with DDP)."""
    pytest.importorskip("efficientnet_pytorch")
    model = randomised(DFBDetector(DFBEfficientNetB4()), seed, size, *DFB_NORM)
    torch.save(OrderedDict((prefix + k, v) for k, v in model.state_dict().items()), path)
    return model


def dfb_xception_release(path, size=96, seed=3):
    model = randomised(DFBDetector(DFBXception()), seed, size, *DFB_NORM)
    torch.save(model.state_dict(), path)
    return model


def crops(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``uint8 (n,size,size,3) RGB`` face-crop stand-ins."""
    return (images(n, size, seed).permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)


def original_probability(model: nn.Module, faces: np.ndarray, mean: float, std: float) -> np.ndarray:
    """What the original inference code computes: RGB/255, (x - mean) / std, softmax[:, 1]."""
    x = (torch.from_numpy(faces).permute(0, 3, 1, 2).float() / 255 - mean) / std
    with torch.inference_mode():
        p = model(x).softmax(1)[:, 1].double().numpy()
    assert np.all((p > 1e-3) & (p < 1 - 1e-3)), f"saturated probabilities {p} would hide a wrong normalisation"
    return p


def max_logit_difference(original: nn.Module, detector, size: int, norm: tuple[float, float], n: int = 2) -> float:
    x = (images(n, size, seed=size + 1) - norm[0]) / norm[1]
    with torch.inference_mode():
        ref, ours = original(x), detector.model(x)
    assert ref.shape == ours.shape == (n, 2)
    assert float((ref[0] - ref[1]).abs().max()) > 0.1, "the logits hardly vary with the input: the check would prove nothing"
    return float((ref - ours).abs().max())


# -- equivalence -----------------------------------------------------------------------------------------
def test_sbi_gives_the_original_logits_and_probabilities(tmp_path):
    original = sbi_release(tmp_path / "FFc23.tar", size=380)
    detector = SBIDetector.load(tmp_path / "FFc23.tar", device="cpu")
    assert detector.config == SBIConfig() and detector.request.size == 380
    assert max_logit_difference(original, detector, 380, SBI_NORM) < ATOL
    faces = crops(1, 380, seed=381)
    np.testing.assert_allclose(detector.score_frames(faces), original_probability(original, faces, *SBI_NORM), atol=1e-5)


def test_dfb_efficientnetb4_gives_the_original_logits_and_probabilities(tmp_path):
    original = dfb_b4_release(tmp_path / "effnb4_best.pth", size=256)
    detector = DFBEfficientNetB4Detector.load(tmp_path / "effnb4_best.pth", device="cpu")
    assert detector.config == DFBConfig() and detector.request.size == 256 and detector.request.margin == 0.15
    assert max_logit_difference(original, detector, 256, DFB_NORM) < ATOL  # timm's own "same" padding differs at 256
    faces = crops(2, 256, seed=257)
    np.testing.assert_allclose(detector.score_frames(faces), original_probability(original, faces, *DFB_NORM), atol=1e-5)


def test_dfb_efficientnetb4_reads_a_ddp_checkpoint(tmp_path):
    original = dfb_b4_release(tmp_path / "ddp.pth", size=160, prefix="module.")
    detector = DFBEfficientNetB4Detector.load(tmp_path / "ddp.pth", device="cpu")
    assert max_logit_difference(original, detector, 160, DFB_NORM) < ATOL  # 160 px: another padding than at 256 or 380


def test_sbi_reads_the_network_saved_alone(tmp_path):
    original = sbi_release(tmp_path / "FFraw.tar", size=160)
    torch.save(original.net.state_dict(), tmp_path / "net.pth")  # names without "net."
    detector = SBIDetector.load(tmp_path / "net.pth", device="cpu")
    assert max_logit_difference(original, detector, 160, SBI_NORM) < ATOL


def test_dfb_xception_gives_the_original_logits_and_probabilities(tmp_path):
    original = dfb_xception_release(tmp_path / "xception_best.pth", size=256)
    detector = DFBXceptionDetector.load(tmp_path / "xception_best.pth", device="cpu")
    assert max_logit_difference(original, detector, 256, DFB_NORM) < ATOL
    faces = crops(2, 256, seed=257)
    np.testing.assert_allclose(detector.score_frames(faces), original_probability(original, faces, *DFB_NORM), atol=1e-5)


# -- save writes the released layout ---------------------------------------------------------------------
@pytest.mark.parametrize("cls, release, unwrap", [
    (SBIDetector, sbi_release, lambda payload: payload["model"]),
    (DFBXceptionDetector, dfb_xception_release, lambda payload: payload),
])
def test_saved_file_loads_into_the_original_and_back(tmp_path, cls, release, unwrap):
    original = release(tmp_path / "released.pth")
    detector = cls.load(tmp_path / "released.pth", device="cpu")
    saved = detector.save(tmp_path / "saved.pth")
    again_original = type(original)() if cls is SBIDetector else DFBDetector(DFBXception())
    again_original.load_state_dict(unwrap(torch.load(saved, weights_only=True)), strict=True)  # the original's own loader
    again_original.eval()
    for a, b in zip(original.state_dict().values(), again_original.state_dict().values()):
        assert torch.equal(a, b)
    again = cls.load(saved, device="cpu")
    faces = crops(2, 96)
    np.testing.assert_array_equal(again.score_frames(faces), detector.score_frames(faces))


def test_save_load_keeps_the_settings_and_the_random_network(tmp_path):
    detector = DFBEfficientNetB4Detector(config=DFBConfig(input_size=64, aggregation="max", frames=8), device="cpu", seed=5)
    again = DFBEfficientNetB4Detector.load(detector.save(tmp_path / "b4.pth"), device="cpu")
    assert again.config == detector.config and again.request == detector.request
    track = synthetic_track(blink_openness(4, 25.0, []), size=48, seed=1)
    assert again.explain(track).score == detector.explain(track).score


# -- scores and inputs ---------------------------------------------------------------------------------
def test_scores_are_probabilities_and_faceless_frames_are_nan():
    detector = DFBXceptionDetector(config=DFBConfig(input_size=64), device="cpu")
    track = synthetic_track(blink_openness(4, 25.0, []), size=48, has_face=np.array([True, False, True, True]))
    scores = detector.score_frames(track)
    assert scores.dtype == np.float64 and scores.shape == (4,)
    assert np.isnan(scores[1]) and np.all((scores[[0, 2, 3]] >= 0) & (scores[[0, 2, 3]] <= 1))
    result = detector.explain(track)
    assert result.frames_used == 3 and 0 <= result.score <= 1


def test_the_detectors_are_registered_with_their_protocols():
    from fakebench.detect import load_detectors
    from fakebench.detect.base import DETECTORS

    load_detectors()
    assert DETECTORS.get("sbi") is SBIDetector
    assert DETECTORS.get("dfb-xception") is DFBXceptionDetector
    assert DETECTORS.get("dfb-efficientnetb4") is DFBEfficientNetB4Detector
    assert SBIDetector.request.size == 380 and DFBXceptionDetector.request.size == 256
    assert "github.com/mapooon/SelfBlendedImages" in SBIDetector.__doc__.splitlines()[0]


# -- files that are not the released ones ----------------------------------------------------------------
def test_a_truncated_file_says_what_was_expected(tmp_path):
    dfb_xception_release(tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    (tmp_path / "cut.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut.pth: expected .*dfb-xception.*truncated") as info:
        DFBXceptionDetector.load(tmp_path / "cut.pth", device="cpu")
    assert "\n" not in str(info.value)


def test_a_state_dict_of_another_model_is_refused(tmp_path):
    dfb_xception_release(tmp_path / "xception_best.pth")
    with pytest.raises(CheckpointError, match=r"expected an SBI checkpoint \(sbi: .*another model") as info:
        SBIDetector.load(tmp_path / "xception_best.pth", device="cpu")
    assert "\n" not in str(info.value)
    with pytest.raises(CheckpointError, match=r"expected .*dfb-efficientnetb4"):
        DFBEfficientNetB4Detector.load(tmp_path / "xception_best.pth", device="cpu")


def test_a_released_file_of_another_shape_is_refused(tmp_path):
    state = dfb_xception_release(tmp_path / "x.pth").state_dict()
    state["backbone.last_linear.weight"] = torch.zeros(5, 2048)
    state["backbone.last_linear.bias"] = torch.zeros(5)
    torch.save(state, tmp_path / "five.pth")
    with pytest.raises(CheckpointError, match=r"expected .*dfb-xception.*last_linear.weight' has shape \(5, 2048\)"):
        DFBXceptionDetector.load(tmp_path / "five.pth", device="cpu")


def test_a_pickle_of_objects_and_a_folder_are_refused(tmp_path):
    torch.save({"model": nn.Linear(2, 2)}, tmp_path / "module.pth")  # a pickled module, not a state dict
    with pytest.raises(CheckpointError, match=r"expected an SBI checkpoint .*Python objects \(torch.nn.modules.linear.Linear\)"):
        SBIDetector.load(tmp_path / "module.pth", device="cpu")
    with pytest.raises(CheckpointError, match=r"expected an SBI checkpoint .*folder"):
        SBIDetector.load(tmp_path, device="cpu")
