"""A frequency-spectrum detector: what up-sampling decoders leave in the face crop's power spectrum.

Generators that up-sample (transposed convolutions, pixel shuffle, the face-swap autoencoder's
decoder) and the blur of pasting a low-resolution face change the high-frequency part of the
image's spectrum (Durall et al., "Watch your up-convolution", CVPR 2020). Per face crop: gray,
``input_size`` pixels, 2-D FFT, log power averaged over rings of equal frequency (``bins`` radial
bins, the DC bin dropped), minus its own mean (brightness does not count). A logistic regression on
that profile, trained on real and fake crops, gives P(fake) per frame; the video score is the
frames' ``aggregation``.

It is a plug-in: it subclasses ``fakebench.detect.Detector`` and nothing in fakebench knows it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from fakebench.detect import Detector, FaceRequest
from fakebench.detect.base import check_crops
from fakebench.errors import CheckpointError, FakebenchError

FORMAT = "fakebench-spectrum-1"


@dataclass(frozen=True)
class SpectrumConfig:
    input_size: int = 128  # crops are resized to this before the FFT
    bins: int = 32  # radial frequency bins of the profile
    frames: int = 32  # frames per video, spread evenly
    aggregation: str = "mean"  # frame scores -> video score: mean, max or confident
    c: float = 1.0  # inverse regularisation strength of the logistic regression


def radial_profile(crops: np.ndarray, size: int, bins: int) -> np.ndarray:
    """``float64 (N, bins)``: the mean-removed log power spectrum of each crop, averaged over rings."""
    yy, xx = np.mgrid[:size, :size] - size // 2
    radius = np.hypot(yy, xx) / (size / 2)  # 0 at DC, 1 at the Nyquist ring
    ring = np.minimum((radius * bins).astype(int), bins)  # corners (beyond Nyquist) go to bin `bins`, dropped
    counts = np.bincount(ring.ravel(), minlength=bins + 1)[:bins]
    out = np.empty((len(crops), bins - 1))
    for i, crop in enumerate(crops):
        gray = cv2.cvtColor(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
        power = np.abs(np.fft.fftshift(np.fft.fft2(gray.astype(np.float64) / 255.0))) ** 2
        profile = np.bincount(ring.ravel(), weights=np.log(power.ravel() + 1e-12), minlength=bins + 1)[:bins] / counts
        out[i] = profile[1:] - profile[1:].mean()
    return out


class SpectrumDetector(Detector):
    """Logistic regression on the face crop's radial power spectrum (example plug-in, trains on reals and fakes)."""

    name = "spectrum"
    config_class = SpectrumConfig
    trains_on = "real+fake"
    needs_weights = True

    def __init__(self, *, config: SpectrumConfig | None = None, device: str = "auto", seed: int = 0):
        super().__init__(config=config, device=device, seed=seed)
        self.request = FaceRequest(size=self.config.input_size, count=self.config.frames, landmarks=False)
        n = self.config.bins - 1
        self.mean, self.scale = np.zeros(n), np.ones(n)
        self.coef, self.intercept = np.zeros(n), 0.0  # untrained: 0.5 for every face
        self.trained_on: dict = {}

    def score_frames(self, faces) -> np.ndarray:
        has = getattr(faces, "has_face", None)
        crops = check_crops(faces)
        out = np.full(len(crops), np.nan)
        keep = np.flatnonzero(has) if has is not None else np.arange(len(crops))
        if len(keep):
            x = (radial_profile(crops[keep], self.config.input_size, self.config.bins) - self.mean) / self.scale
            out[keep] = 1.0 / (1.0 + np.exp(-(x @ self.coef + self.intercept)))
        return out

    def fit(self, real, fake=None, *, out, config=None, progress: bool = True) -> dict:
        """Fit the logistic regression on ``real`` and ``fake`` FaceSets; writes ``out/best.pt`` and ``out/summary.json``."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score

        if fake is None or len(fake) == 0:
            raise FakebenchError("the spectrum detector learns real vs fake, so it needs fake faces (--fake PATH...)")
        x = radial_profile(np.concatenate([real.crops, fake.crops]), self.config.input_size, self.config.bins)
        y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
        self.mean, self.scale = x.mean(0), x.std(0) + 1e-8
        model = LogisticRegression(C=self.config.c, max_iter=2000).fit((x - self.mean) / self.scale, y)
        self.coef, self.intercept = model.coef_[0].astype(np.float64), float(model.intercept_[0])
        self.trained_on = {"real_crops": len(real), "fake_crops": len(fake)}
        auc = float(roc_auc_score(y, self.score_frames(np.concatenate([real.crops, fake.crops]))))
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        self.save(out / "best.pt")
        summary = {"out": str(out), "finished": True, "train_crops": len(y), "train_auc": round(auc, 4)}
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        return summary

    def save(self, path: str | os.PathLike) -> Path:
        path = Path(path)
        path.write_text(json.dumps({"format": FORMAT, "detector": self.name, "config": asdict(self.config),
                                    "mean": self.mean.tolist(), "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                                    "intercept": self.intercept, "trained_on": self.trained_on}))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, *, device: str = "auto") -> SpectrumDetector:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise CheckpointError(f"{path}: expected a spectrum checkpoint (JSON written by its save), could not read "
                                  f"it ({type(err).__name__})") from err
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CheckpointError(f"{path}: expected a spectrum checkpoint ({FORMAT}), found something else")
        detector = cls(config=SpectrumConfig(**data["config"]), device=device)
        detector.mean, detector.scale = np.asarray(data["mean"]), np.asarray(data["scale"])
        detector.coef, detector.intercept = np.asarray(data["coef"]), float(data["intercept"])
        detector.trained_on = data.get("trained_on") or {}
        return detector
