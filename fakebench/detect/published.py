"""Detectors that score with published checkpoints: SBI (Shiohara & Yamasaki, CVPR 2022) and
DeepfakeBench's Xception and EfficientNet-B4 (Yan et al., NeurIPS 2023 data sets and benchmarks).

No original package is needed at run time: each network is a timm model, and ``load`` renames the
released file's tensors onto it (by rule, every shape checked). ``save`` writes the released
layout back, so the original code reads what fakebench wrote; the fakebench settings (input size,
margin, aggregation) ride in the state dict's ``_metadata``, which ``load_state_dict`` reads only for
names of modules, so the original strict loaders ignore them. See docs/published-detectors.md.

Crops in: ``uint8 (N,H,W,3) RGB`` aligned faces; crops of another size than ``config.input_size``
are resized (one warning per detector). Scores out: ``float64 (N,)`` softmax probability of class 1
("fake") of the two-logit head, NaN where the track has no face.

Without weights a detector is a seeded random network (for tests and timing only).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import re
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from fakebench.config import from_dict, to_dict
from fakebench.detect.base import DETECTORS, Detector, FaceRequest, aggregate
from fakebench.detect.cnn import FrameNetwork
from fakebench.errors import CheckpointError, FakebenchError
from fakebench.faces.track import FaceTrack
from fakebench.files import save_torch

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class SBIConfig:
    """Input and video rule of the SBI detector (kept in a saved file, re-read on load)."""

    input_size: int = 380  # SBI's inference size (src/inference/preprocess.py)
    margin: float = 0.05  # fakebench crop margin closest to SBI's box + 1/8 crop (see SBIDetector)
    aggregation: str = "mean"  # frame scores -> video score: mean (SBI's rule), max or confident
    frames: int = 32  # frames per video, spread evenly (SBI's default -n 32)


@dataclass(frozen=True)
class DFBConfig:
    """Input and video rule of a DeepfakeBench detector (kept in a saved file, re-read on load)."""

    input_size: int = 256  # `resolution` in training/config/detector/{xception,efficientnetb4}.yaml
    margin: float = 0.15  # DeepfakeBench's aligned crop at scale 1.3 is fakebench's margin 0.15
    aggregation: str = "mean"  # frame scores -> video score: mean (DeepfakeBench's video AUC), max or confident
    frames: int = 32  # frames per video, spread evenly (frame_num test: 32)


class PublishedDetector(FrameNetwork, Detector):
    """A two-logit timm network read from a released checkpoint; subclasses say which one.

    A subclass sets ``about`` and ``files`` (what the released file is and where it is published, for
    messages), ``wrapper`` (the first part of every released name: "net" or "backbone"),
    ``mean``/``std`` (of the input in [0, 1]), and builds the network (``network``) and the released
    name of each of its tensors (``names``).
    """

    about: ClassVar[str] = ""
    files: ClassVar[str] = ""
    wrapper: ClassVar[str] = ""
    mean: ClassVar[tuple[float, float, float]] = (0.0, 0.0, 0.0)
    std: ClassVar[tuple[float, float, float]] = (1.0, 1.0, 1.0)
    config_class: ClassVar[type] = DFBConfig
    needs_weights = True  # a random network's scores mean nothing; the CLI warns when no --weights are given

    def __init__(self, *, config=None, device: str = "auto", seed: int = 0, batch_size: int = 16):
        super().__init__(config=config, device=device, seed=seed)
        config = self.config
        if not isinstance(config, self.config_class):
            raise FakebenchError(f"detector {self.name!r} takes a {self.config_class.__name__}, got {type(config).__name__}")
        aggregate([0.5], config.aggregation)  # an unknown rule is refused here, not at the first video
        if config.input_size < 32 or config.frames < 1 or config.margin < 0:
            raise FakebenchError(f"expected input_size >= 32, frames >= 1 and margin >= 0, got {config.input_size}, "
                                 f"{config.frames} and {config.margin}")
        self.batch_size = batch_size
        self.request = FaceRequest(size=config.input_size, margin=config.margin, count=config.frames, landmarks=True)
        self.weights: str | None = None  # the file the network was read from
        self._model = None
        self._extras: dict = {}
        self._warned_size = False

    # -- what a subclass provides ---------------------------------------------------------------
    def network(self):
        """The timm network with random weights (called under a fixed seed)."""
        raise NotImplementedError

    def names(self, model) -> dict[str, str]:
        """timm state-dict name -> name in the released file, for every tensor of ``model``."""
        raise NotImplementedError

    def extra_tensors(self) -> dict:
        """Tensors the released file holds for modules scoring never uses (kept so ``save`` writes them)."""
        return {}

    def wrap(self, state: OrderedDict) -> object:
        """The released file's payload around the state dict (a bare state dict by default)."""
        return state

    # -- the network --------------------------------------------------------------------------
    def _build(self) -> None:
        import torch

        from fakebench.runtime import resolve_device

        self._device = torch.device(resolve_device(self.device))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = self.network()
            self._extras = self.extra_tensors()
        self._model = model.eval()
        self._mean = torch.tensor(self.mean, dtype=torch.float32).view(1, 3, 1, 1) * 255
        self._std = torch.tensor(self.std, dtype=torch.float32).view(1, 3, 1, 1) * 255
        self.to(self._device)

    def to(self, device) -> PublishedDetector:
        import torch

        model = self.model
        self._device = torch.device(device)
        model.to(self._device, memory_format=torch.channels_last)  # faster on CPUs too (BENCHMARKS.md)
        self._mean, self._std = self._mean.to(self._device), self._std.to(self._device)
        return self

    # -- scoring ------------------------------------------------------------------------------
    def score_frames(self, faces: FaceTrack | np.ndarray) -> np.ndarray:
        import torch

        return self.probabilities(faces, lambda logits: torch.softmax(logits, dim=1)[:, 1])

    # -- the released file --------------------------------------------------------------------
    @classmethod
    def expected(cls, where: str | os.PathLike) -> str:
        """The start of every message about a file that is not what this detector reads."""
        return f"{where}: expected {cls.about} ({cls.name}: {cls.files})"

    def released_state(self) -> OrderedDict:
        """The weights under the released file's names, with the fakebench settings in ``_metadata``."""
        model = self.model
        names = self.names(model)
        state = OrderedDict((names[k], v.detach().cpu().clone()) for k, v in model.state_dict().items())
        state.update((k, v.detach().cpu().clone()) for k, v in self._extras.items())
        state._metadata = OrderedDict(fakebench={"format_version": FORMAT_VERSION, "detector": self.name,
                                                 "config": to_dict(self.config)})
        return state

    def save(self, path: str | os.PathLike) -> Path:
        """Write the weights in the released layout (the original code loads it, strict)."""
        path = Path(path)
        if path.is_dir():
            raise CheckpointError(f"{path}: is a folder; expected a file name for the {self.name} weights, "
                                  f"e.g. {path / (self.name + '.pth')}")
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = self.wrap(self.released_state())
        save_torch(payload, path)  # serialised in memory, then one atomic durable write
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "auto") -> PublishedDetector:
        """Read a released checkpoint (or what ``save`` wrote); anything else says what was expected."""
        path = Path(path)
        state, settings = read_released(path, cls.expected(path))
        config = None
        if settings is not None:
            if settings.get("detector") != cls.name:
                raise CheckpointError(f"{cls.expected(path)}, found weights saved by fakebench's "
                                      f"{settings.get('detector')!r} detector")
            config = from_dict(cls.config_class, settings.get("config"), where=f"{path} settings")
        detector = cls(config=config, device=device)
        detector.load_released(state, where=str(path))
        detector.weights = str(path)
        return detector

    def load_released(self, state: dict, where: str) -> None:
        """Put the tensors of a released state dict (names as in the file) into the network.

        The inner network saved alone (names without the ``wrapper`` part, e.g. ``_conv_stem.weight``
        for SBI) is read too.
        """
        shown = ", ".join(repr(k) for k in list(state)[:2])
        if not any(k.startswith(self.wrapper + ".") for k in state):
            state = {f"{self.wrapper}.{k}": v for k, v in state.items()}
        model = self.model
        names = self.names(model)
        own = model.state_dict()
        expected = self.expected(where)
        wanted = set(names.values()) | set(self._extras)
        missing = [r for k, r in names.items() if r not in state and not k.endswith("num_batches_tracked")]
        unknown = [k for k in state if k not in wanted]
        if missing or unknown:
            found = f"{len(state)} tensors named like {shown}"
            what = f"no {missing[0]!r}" if missing else f"an unknown {unknown[0]!r}"
            raise CheckpointError(f"{expected}, found {found}, with {what} ({len(missing)} missing, {len(unknown)} "
                                  "unknown): weights of another model; pass the file the original repository releases")
        for k, r in names.items():
            if r in state and tuple(state[r].shape) != tuple(own[k].shape):
                raise CheckpointError(f"{expected}: tensor {r!r} has shape {tuple(state[r].shape)}, the network expects "
                                      f"{tuple(own[k].shape)}: weights of another configuration of the model")
        for k, v in self._extras.items():
            if k in state and tuple(state[k].shape) != tuple(v.shape):
                raise CheckpointError(f"{expected}: tensor {k!r} has shape {tuple(state[k].shape)}, expected "
                                      f"{tuple(v.shape)}: weights of another configuration of the model")
        model.load_state_dict({k: state.get(r, own[k]) for k, r in names.items()})
        self._extras = {k: state.get(k, v) for k, v in self._extras.items()}


def read_released(path: Path, expected: str) -> tuple[dict, dict | None]:
    """The tensors of a released checkpoint by their released name, and fakebench's settings if it wrote the file.

    Accepts the payloads the originals write (a dict with "model" (SBI), a bare state dict
    (DeepfakeBench), a dict with "state_dict") and "module." names (a DataParallel/DDP model).
    """
    import torch

    if path.is_dir():
        raise CheckpointError(f"{expected}, got a folder: pass the checkpoint file itself")
    if not path.is_file():
        raise CheckpointError(f"{expected}: no such file; download it as docs/published-detectors.md says")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for a damaged or foreign file)
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(err))
        if unsafe:
            raise CheckpointError(f"{expected}, found a pickle holding Python objects ({unsafe.group(1)}), not only "
                                  "tensors: not a released file of this detector") from err
        raise CheckpointError(f"{expected}, could not read it ({type(err).__name__}): the file is truncated or not a "
                              "PyTorch file; download it again") from err
    state = payload
    if isinstance(payload, dict) and "format_version" in payload and "detector" in payload:
        raise CheckpointError(f"{expected}, found a fakebench checkpoint of detector {payload.get('detector')!r}: "
                              f"load it with --detector {payload.get('detector')}")
    for key in ("model", "state_dict"):
        if isinstance(payload, dict) and isinstance(payload.get(key), dict):
            state = payload[key]
            break
    if not isinstance(state, dict) or not state or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                           for k, v in state.items()):
        raise CheckpointError(f"{expected}, found a {type(state).__name__} that is not a state dict of tensors")
    settings = (getattr(state, "_metadata", None) or {}).get("fakebench")
    keys = list(state)
    if all(k.startswith("module.") for k in keys):
        keys = [k[len("module."):] for k in keys]
    return dict(zip(keys, state.values())), settings if isinstance(settings, dict) else None


# -- EfficientNet-B4 as efficientnet_pytorch computes it ---------------------------------------------
# efficientnet_pytorch names: the blocks are one flat list, and within a block the modules are named
# by role. timm: blocks.<stage>.<index>; the first stage's blocks have no expansion conv.
_EFFNET_TOP = {"conv_stem": "_conv_stem", "bn1": "_bn0", "conv_head": "_conv_head", "bn2": "_bn1"}
_EFFNET_EXPANDED = {"conv_pw": "_expand_conv", "bn1": "_bn0", "conv_dw": "_depthwise_conv", "bn2": "_bn1",
                    "se.conv_reduce": "_se_reduce", "se.conv_expand": "_se_expand", "conv_pwl": "_project_conv",
                    "bn3": "_bn2"}
_EFFNET_DEPTHWISE = {"conv_dw": "_depthwise_conv", "bn1": "_bn1", "se.conv_reduce": "_se_reduce",
                     "se.conv_expand": "_se_expand", "conv_pw": "_project_conv", "bn2": "_bn2"}


def efficientnet_b4(*, stem_padding: bool = True, image_size: int = 380):
    """timm's ``tf_efficientnet_b4`` (BN eps 1e-3, swish, SE) with two classes, padded as efficientnet_pytorch pads.

    timm's TF-"same" padding is computed from each input; efficientnet_pytorch fixes it when the model
    is built, from the nominal image size (380 for B4) whatever the input. The two agree only when
    the input has the nominal size's parity at every stride-2 conv (e.g. 380, not DeepfakeBench's
    256), so the stride-2 convs get efficientnet_pytorch's fixed padding here: the simplest exact
    route. ``stem_padding=False`` is DeepfakeBench's stem, a plain unpadded ``nn.Conv2d``.
    """
    import timm
    from torch import nn

    model = timm.create_model("tf_efficientnet_b4", pretrained=False, num_classes=2)
    size = image_size
    for name, conv in list(model.named_modules()):
        if not isinstance(conv, nn.Conv2d) or conv.stride == (1, 1):
            continue
        (k, _), (s, _) = conv.kernel_size, conv.stride
        out = math.ceil(size / s)
        total = max((out - 1) * s + k - size, 0)
        pad = (total // 2, total - total // 2) * 2 if (stem_padding or name != "conv_stem") else (0, 0, 0, 0)
        fixed = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0, conv.dilation,
                          conv.groups, bias=conv.bias is not None)
        fixed.weight, fixed.bias = conv.weight, conv.bias
        if any(pad):
            fixed.register_forward_pre_hook(functools.partial(_zero_pad, pad=pad))
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent), attr, fixed)
        size = out
    return model


def _zero_pad(module, args, pad):
    import torch.nn.functional as F

    return (F.pad(args[0], pad),)


def efficientnet_names(model, body: str, head: str) -> dict[str, str]:
    """timm B4 name -> efficientnet_pytorch name under ``body``; the classifier goes to ``head``."""
    flat, i = {}, 0
    for s, stage in enumerate(model.blocks):
        for j, block in enumerate(stage):
            flat[f"blocks.{s}.{j}"] = (i, _EFFNET_EXPANDED if hasattr(block, "conv_pwl") else _EFFNET_DEPTHWISE)
            i += 1
    names = {}
    for key in model.state_dict():
        module, param = key.rsplit(".", 1)
        if module == "classifier":
            names[key] = f"{head}.{param}"
        elif module in _EFFNET_TOP:
            names[key] = f"{body}{_EFFNET_TOP[module]}.{param}"
        else:
            parts = module.split(".", 3)  # blocks, stage, index, role
            index, roles = flat[".".join(parts[:3])]
            names[key] = f"{body}_blocks.{index}.{roles[parts[3]]}.{param}"
    return names


@DETECTORS.register("sbi")
class SBIDetector(PublishedDetector):
    """Self-Blended Images EfficientNet-B4 (CVPR 2022); weights FFraw.tar / FFc23.tar from github.com/mapooon/SelfBlendedImages.

    The released file is ``{"model": state_dict, "optimizer": ..., "epoch": ...}`` (src/train_sbi.py);
    the state dict is SBI's ``Detector`` module, whose EfficientNet-B4 is ``net``: names
    ``net._conv_stem.weight`` ... ``net._fc.bias`` (efficientnet_pytorch, two classes). It holds
    tensors and plain numbers only, so it is read with ``weights_only=True``.

    Input as SBI's inference code: RGB scaled to [0, 1], no mean/std, 380 x 380; P(fake) =
    softmax[:, 1]; video score = the mean over 32 evenly spread frames. SBI crops the RetinaFace
    box widened by 1/8 of its size on each side and stretches it to a square; fakebench crops are
    similarity-aligned squares, and margin 0.05 gives a square of about that area (measured on the
    sample videos: an MTCNN box is ~0.70 x 0.97 of the margin-0 crop, so MTCNN box + 1/8 per side
    has the area of margin 0.015; RetinaFace boxes are usually somewhat larger). SBI takes the
    maximum over the faces of a frame; fakebench follows one face.
    """

    name = "sbi"
    about = "an SBI checkpoint"
    files = "FFraw.tar or FFc23.tar from github.com/mapooon/SelfBlendedImages"
    wrapper = "net"
    config_class = SBIConfig
    request = FaceRequest(size=SBIConfig.input_size, margin=SBIConfig.margin, count=SBIConfig.frames)

    def network(self):
        return efficientnet_b4(stem_padding=True)

    def names(self, model) -> dict[str, str]:
        return efficientnet_names(model, body="net.", head="net._fc")

    def wrap(self, state: OrderedDict) -> object:
        return {"model": state}  # SBI's inference code reads torch.load(file)["model"]


class DeepfakeBenchDetector(PublishedDetector):
    """What DeepfakeBench's released detectors share: names under ``backbone.``, input normalised with
    mean = std = 0.5, 256 px crops at margin 0.15 (``DFBConfig``)."""

    wrapper = "backbone"
    mean = (0.5, 0.5, 0.5)
    std = (0.5, 0.5, 0.5)
    config_class = DFBConfig
    request = FaceRequest(size=DFBConfig.input_size, margin=DFBConfig.margin, count=DFBConfig.frames)


@DETECTORS.register("dfb-efficientnetb4")
class DFBEfficientNetB4Detector(DeepfakeBenchDetector):
    """DeepfakeBench EfficientNet-B4 (FF++ c23); weights effnb4_best.pth, github.com/SCLBD/DeepfakeBench release v1.0.1.

    The released file is the bare state dict of DeepfakeBench's ``EfficientDetector``
    (training/trainer/trainer.py ``save_ckpt``): ``backbone.efficientnet.<efficientnet_pytorch
    names without _fc>`` and ``backbone.last_layer.{weight,bias}`` (Linear 1792 -> 2); its stem is a
    plain unpadded ``nn.Conv2d(3, 48, 3, stride=2)`` (training/networks/efficientnetb4.py).

    Input: RGB in [0, 1] normalised with mean = std = 0.5, 256 x 256 (training/config/detector/
    efficientnetb4.yaml); P(fake) = softmax[:, 1]; video score = the mean over 32 frames.
    DeepfakeBench's crop is a 5-point similarity alignment to the same ArcFace template at scale
    1.3, which is fakebench's margin 0.15 (its points are dlib's, fakebench's MTCNN/dlib ones).
    """

    name = "dfb-efficientnetb4"
    about = "a DeepfakeBench EfficientNet-B4 checkpoint"
    files = "effnb4_best.pth from github.com/SCLBD/DeepfakeBench release v1.0.1"

    def network(self):
        return efficientnet_b4(stem_padding=False)

    def names(self, model) -> dict[str, str]:
        return efficientnet_names(model, body="backbone.efficientnet.", head="backbone.last_layer")


@DETECTORS.register("dfb-xception")
class DFBXceptionDetector(DeepfakeBenchDetector):
    """DeepfakeBench Xception (FF++ c23); weights xception_best.pth, github.com/SCLBD/DeepfakeBench release v1.0.1.

    The released file is the bare state dict of DeepfakeBench's ``XceptionDetector``: the Cadene
    Xception under ``backbone.`` (``backbone.conv1.weight``, ``backbone.block1.rep.0.conv1.weight``,
    ``backbone.block1.skipbn.running_var`` ... ``backbone.last_linear.{weight,bias}``, Linear 2048 -> 2)
    plus ``backbone.adjust_channel.*`` (a 2048 -> 512 conv + BN the "original" mode never runs; kept
    so ``save`` writes it back). timm's ``legacy_xception`` is the same network with ``fc`` for
    ``last_linear``.

    Input: RGB in [0, 1] normalised with mean = std = 0.5, 256 x 256 (training/config/detector/
    xception.yaml); P(fake) = softmax[:, 1]; video score = the mean over 32 frames; crop margin 0.15
    as for dfb-efficientnetb4.
    """

    name = "dfb-xception"
    about = "a DeepfakeBench Xception checkpoint"
    files = "xception_best.pth from github.com/SCLBD/DeepfakeBench release v1.0.1"

    def network(self):
        import timm

        return timm.create_model("legacy_xception", pretrained=False, num_classes=2)

    def names(self, model) -> dict[str, str]:
        return {k: "backbone." + ("last_linear." + k[len("fc."):] if k.startswith("fc.") else k) for k in model.state_dict()}

    def extra_tensors(self) -> dict:
        from torch import nn

        unused = nn.Sequential(nn.Conv2d(2048, 512, 1, 1), nn.BatchNorm2d(512), nn.ReLU(inplace=False))
        return {f"backbone.adjust_channel.{k}": v for k, v in unused.state_dict().items()}

