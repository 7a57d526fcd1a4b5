"""What the CNN detectors share: a timm backbone with one "fake" logit, its input transform,
batched scoring of face crops, and checkpoints that re-check the architecture on load (and carry
the calibrated thresholds of ``detect.training``, read back as ``detector.thresholds``).

Crops in: ``uint8 (N,H,W,3) RGB`` aligned faces (``FaceTrack.crops``). Crops of another size than
``config.input_size`` are resized (bilinear; one warning per detector), so a 256 px face cache can
be scored by a 224 px model. Scores out: ``float64 (N,)`` sigmoid probabilities of fake.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fakebench.backbones import create_backbone
from fakebench.config import from_dict, to_dict
from fakebench.detect.base import Detector, FaceRequest, check_crops
from fakebench.errors import CheckpointError, FakebenchError
from fakebench.faces.track import FaceTrack
from fakebench.files import save_torch

log = logging.getLogger(__name__)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CNNConfig:
    """Architecture and input of a CNN detector (stored in every checkpoint, re-checked on load)."""

    backbone: str = "tf_efficientnet_lite0"  # any timm name; this one has offline ImageNet weights
    input_size: int = 224
    aux_boundary: bool = False  # a second head predicting the blending boundary (Face X-ray style)
    aggregation: str = "mean"  # frame scores -> video score: mean, max or confident
    frames: int = 32  # frames per video when scoring a file (the de-facto protocol)


class FrameNetwork:
    """What the torch frame-level detectors share (``CNNDetector``, the published adapters): crops
    resized to ``config.input_size`` (one warning), normalised by ``_mean``/``_std`` on ``_device``
    channels-last, and scored in batches of ``batch_size`` without gradients (bf16 on CUDA). The
    network (``model``) is built by ``_build`` on first use."""

    @property
    def model(self):
        if self._model is None:
            self._build()
        return self._model

    def prepare(self, crops: np.ndarray):
        """``uint8 (N,H,W,3)`` -> normalised ``float32 (N,3,S,S)`` tensor on the detector's device."""
        import torch

        crops = self.resize(crops)
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self._device).permute(0, 3, 1, 2).float()
        x = (x - self._mean) / self._std
        return x.contiguous(memory_format=torch.channels_last)

    def resize(self, crops: np.ndarray) -> np.ndarray:
        import cv2

        size = self.config.input_size
        if crops.shape[1:3] == (size, size):
            return crops
        if not self._warned_size:
            log.warning("face crops are %dx%d, the %s detector takes %dx%d: resizing them (extract at --size %d to "
                        "skip this)", crops.shape[2], crops.shape[1], self.name, size, size, size)
            self._warned_size = True
        return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA if c.shape[0] > size
                                    else cv2.INTER_LINEAR) for c in crops])

    def probabilities(self, faces: FaceTrack | np.ndarray, head) -> np.ndarray:
        """``float64 (N,)``: ``head(logits)`` per crop, NaN where the track has no face."""
        import torch

        has = faces.has_face if isinstance(faces, FaceTrack) else None
        crops = check_crops(faces)
        model = self.model
        model.eval()
        out = np.full(len(crops), np.nan)
        keep = np.flatnonzero(has) if has is not None else np.arange(len(crops))
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self._device.type == "cuda" else _null()
        with torch.inference_mode(), autocast:
            for start in range(0, len(keep), self.batch_size):
                idx = keep[start:start + self.batch_size]
                out[idx] = head(model(self.prepare(crops[idx])).float()).cpu().numpy()
        return out


class CNNDetector(FrameNetwork, Detector):
    """Frame-level detector on a timm backbone; subclasses say what it trains on (``trains_on``)."""

    config_class = CNNConfig
    trains_on = "real+fake"
    needs_weights = True

    def __init__(self, *, config: CNNConfig | None = None, device: str = "auto", seed: int = 0,
                 init: str = "imagenet", init_weights: str | os.PathLike | None = None, batch_size: int = 64):
        super().__init__(config=config, device=device, seed=seed)
        config = self.config
        self.init = init
        self.init_weights = init_weights
        self.batch_size = batch_size
        self.request = FaceRequest(size=config.input_size, count=config.frames, landmarks=True)
        self.trained_on: dict = {}
        self._model = None
        self._boundary_head = None
        self._warned_size = False

    # -- the network --------------------------------------------------------------------------
    def _build(self) -> None:
        import torch

        from fakebench.runtime import resolve_device

        self._device = torch.device(resolve_device(self.device))
        self._model = create_backbone(self.config.backbone, init=self.init, weights=self.init_weights, seed=self.seed)
        if self.config.aux_boundary:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed + 1)
                self._boundary_head = torch.nn.Conv2d(self._model.num_features, 1, kernel_size=1)
        import timm

        data = timm.data.resolve_data_config({}, model=self._model)
        self._mean = torch.tensor(data["mean"], dtype=torch.float32).view(1, 3, 1, 1) * 255
        self._std = torch.tensor(data["std"], dtype=torch.float32).view(1, 3, 1, 1) * 255
        self.to(self._device)
        self._model.eval()

    def to(self, device) -> CNNDetector:
        import torch

        self._device = torch.device(device)
        memory = torch.channels_last  # oneDNN's fast layout on CPUs too: 1.5-2x (BENCHMARKS.md)
        self._model.to(self._device, memory_format=memory)
        if self._boundary_head is not None:
            self._boundary_head.to(self._device)
        self._mean, self._std = self._mean.to(self._device), self._std.to(self._device)
        return self

    def parameters(self):
        yield from self.model.parameters()
        if self._boundary_head is not None:
            yield from self._boundary_head.parameters()

    def forward(self, x):
        """Logits ``(N,)`` and, with the auxiliary head, boundary logits ``(N,1,h,w)``."""
        features = self._model.forward_features(x)
        logits = self._model.forward_head(features).squeeze(1)
        boundary = self._boundary_head(features) if self._boundary_head is not None else None
        return logits, boundary

    # -- scoring ------------------------------------------------------------------------------
    def score_frames(self, faces: FaceTrack | np.ndarray) -> np.ndarray:
        import torch

        # float64: a float32 sigmoid rounds every logit above ~17 to 1.0, and ties there leave no threshold between
        # the reals and the fakes that score that high (calibrated operating points, detect.training.calibrate)
        return self.probabilities(faces, lambda logits: torch.sigmoid(logits.squeeze(1).double()))

    # -- training -----------------------------------------------------------------------------
    def fit(self, real, fake=None, *, out, config=None, progress: bool = True) -> dict:
        """Train on ``real`` (and ``fake``) ``FaceSet``s with ``detect.training.fit_detector``.

        ``trains_on == "real"``: every real crop is paired with a self-blend of itself, and ``fake``
        (when given) is only scored against the held-out reals each epoch (``fake_auc``).
        """
        from fakebench.detect.training import TrainConfig, fit_detector

        config = config or TrainConfig()
        if self.trains_on == "real":
            return fit_detector(self, real=real, fake=None, watch_fake=fake, out=out, config=config, progress=progress)
        if fake is None or len(fake) == 0:
            from fakebench.detect.factory import needs_fakes_message

            raise FakebenchError(needs_fakes_message(self.name))
        return fit_detector(self, real=real, fake=fake, out=out, config=config, progress=progress)

    # -- checkpoints --------------------------------------------------------------------------
    def state(self) -> dict:
        state = {"model": self.model.state_dict()}
        if self._boundary_head is not None:
            state["boundary_head"] = self._boundary_head.state_dict()
        return state

    def load_state(self, state: dict, where: str = "checkpoint") -> None:
        model = self.model
        try:
            model.load_state_dict(state["model"])
            if self._boundary_head is not None:
                self._boundary_head.load_state_dict(state["boundary_head"])
        except (KeyError, RuntimeError) as err:
            raise CheckpointError(f"{where}: weights do not fit {self.config.backbone} "
                                  f"({str(err).splitlines()[0][:200]})") from err

    def save(self, path: str | os.PathLike, extra: dict | None = None) -> Path:
        path = Path(path)
        if path.suffix == "" or path.is_dir():
            path = path / "best.pt"
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format_version": FORMAT_VERSION, "detector": self.name, "config": to_dict(self.config),
                   "state_dict": {k: {n: t.detach().cpu() for n, t in v.items()} for k, v in self.state().items()},
                   "trained_on": self.trained_on, "thresholds": self.thresholds, **(extra or {})}
        save_torch(payload, path)  # serialised in memory, then one atomic durable write
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "auto") -> CNNDetector:
        payload, path = read_checkpoint(path, cls.name)
        config = from_dict(cls.config_class, payload.get("config"), where=f"{path} config")
        detector = cls(config=config, device=device, init="random")
        detector.load_state(payload["state_dict"], where=str(path))
        detector.trained_on = payload.get("trained_on") or {}
        detector.thresholds = _thresholds(payload.get("thresholds"), path)  # None in checkpoints older than them
        return detector


def _thresholds(found, path: Path) -> dict | None:
    """A checkpoint's calibrated thresholds (``detect.training.calibrate``), checked."""
    if found is None:
        return None
    if not (isinstance(found, dict) and all(isinstance(found.get(k), float) and 0.0 <= found[k] <= 1.0
                                            for k in ("fpr1", "fpr5"))):
        raise CheckpointError(f"{path}: expected thresholds {{'fpr1': t, 'fpr5': t, ...}} with t in [0, 1], found "
                              f"{found!r:.120}: the file was edited or written by another program; train again")
    return dict(found)


def read_checkpoint(path: str | os.PathLike, detector: str) -> tuple[dict, Path]:
    """The payload of a detector checkpoint (a file, or a training folder holding best.pt)."""
    import torch

    from fakebench.detect.factory import weights_file

    path = weights_file(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for a damaged file)
        raise CheckpointError(f"{path}: expected a {detector} checkpoint, could not read it ({type(err).__name__}); "
                              "the file is truncated or not a PyTorch file: train again or copy it again") from err
    if not isinstance(payload, dict) or "format_version" not in payload:
        raise CheckpointError(f"{path}: expected a {detector} checkpoint written by fakebench, found a "
                              f"{type(payload).__name__} without format_version (a bare state dict? pass it to "
                              "`detect train --weights` as an initialisation instead)")
    if payload.get("detector") != detector:
        raise CheckpointError(f"{path}: expected a {detector} checkpoint, found one of detector "
                              f"{payload.get('detector')!r}")
    if payload["format_version"] > FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {payload['format_version']} is newer than this fakebench "
                              f"reads ({FORMAT_VERSION}): update fakebench")
    return payload, path


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
