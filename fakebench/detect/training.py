"""One training loop for the CNN detectors, on aligned face crops.

Data: ``FaceSet`` = crops ``uint8 (N,S,S,3) RGB``, labels (0 real, 1 fake), a group per crop (its
source file, or the identity folder for stills) and the 68 landmarks in crop pixels. Validation
takes whole groups, never frames of a training video. With ``fake=None`` (the artifact detector)
every real crop is paired with a fresh self-blend of itself each epoch, so batches are balanced
and the detector never sees a deepfake. Crops whose landmarks give no face hull (a ``faces extract
--no-landmarks`` export) are skipped, with a warning that counts them, and refused when none is
left (``NoFaceError``); a self-blend that changed (nearly) nothing is drawn again and never trained
as a fake (``detect.selfblend``).

Per epoch: AdamW with a cosine schedule, augmentations for other cameras and the robustness sweep
(flip, alignment jitter, colour, exposure, white balance, gray, low-resolution down-up resize,
blur, noise, JPEG; ``augment`` and ``jitter``), a tqdm bar with loss and images/s, validation AUC, and two
atomic checkpoints in ``out``: ``last.pt`` (model, optimizer, epoch, step, to resume) and ``best.pt``
(the detector at its best validation AUC, what ``--weights`` loads). A killed run resumes from
``last.pt`` at the step it reached, with the random state it had there, so it ends with the same
weights as a run that was never stopped. ``out`` is claimed (``outputs.output_folder``: a foreign
non-empty folder is refused untouched) and locked while the run writes; every file in it is written
atomically and durably (a full disk is one ``OutputError`` line, the previous checkpoint intact);
temporaries a killed run left there are removed. ``best.pt`` also holds the detector's calibrated operating
points (``thresholds``, see ``calibrate``): the frame-score thresholds at 1 % and 5 % false
positives on the held-out validation reals, which it never trained on. Channels-last everywhere
(1.5x per step on a 2-core CPU); on CUDA bf16 autocast too.
"""

from __future__ import annotations

import csv
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from fakebench import outputs
from fakebench.config import save_config, to_dict
from fakebench.detect.base import Detector
from fakebench.detect.cnn import CNNDetector
from fakebench.detect.selfblend import TRIES, blendable, self_blend
from fakebench.errors import CheckpointError, FakebenchError, NoFaceError
from fakebench.faces.align import transform_points
from fakebench.faces.track import FaceTrack
from fakebench.files import atomic_path, save_torch, write_json

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 3
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-4
    val_fraction: float = 0.25  # of the groups (videos / identities), at least one group per class
    augment: bool = True
    fwa_share: float = 0.3  # artifact detector: share of self-blends made FWA-style (low resolution) instead of SBI
    boundary_weight: float = 1.0  # weight of the blending-boundary loss when the detector has that head
    steps_per_epoch: int = 0  # 0 = one pass over the training crops (x2 with self-blends)
    minutes: float = 0.0  # stop after this long (checkpointed; run again to go on); 0 = no limit
    seed: int = 0


@dataclass
class FaceSet:
    crops: np.ndarray  # uint8 (N,S,S,3) RGB
    labels: np.ndarray  # int64 (N,) 0 real / 1 fake
    groups: np.ndarray  # object (N,) source file or identity
    landmarks: np.ndarray  # float32 (N,68,2) crop pixels, NaN when unknown

    def __len__(self) -> int:
        return len(self.crops)

    @classmethod
    def from_tracks(cls, tracks: Iterable[tuple[FaceTrack, str]], label: int) -> FaceSet:
        """The face crops of ``(track, group)`` pairs, with landmarks moved into crop pixels."""
        crops, groups, marks = [], [], []
        for track, group in tracks:
            keep = np.flatnonzero(track.has_face)
            crops.append(track.crops[keep])
            groups += [group] * len(keep)
            marks.append(np.stack([transform_points(track.landmarks[i], track.affines[i]) for i in keep])
                         if len(keep) else np.zeros((0, 68, 2), np.float32))
        if not crops or sum(len(c) for c in crops) == 0:
            raise FakebenchError(f"no face crops to train on for label {label} ({'fake' if label else 'real'}): "
                                 "check the inputs have visible faces")
        size = {c.shape[1] for c in crops if len(c)}
        if len(size) > 1:
            raise FakebenchError(f"face crops of several sizes {sorted(size)}: extract all inputs at one --size")
        n = sum(len(c) for c in crops)
        return cls(np.concatenate(crops), np.full(n, label, np.int64), np.asarray(groups, object),
                   np.concatenate(marks).astype(np.float32))

    def subset(self, keep: np.ndarray) -> FaceSet:
        return FaceSet(self.crops[keep], self.labels[keep], self.groups[keep], self.landmarks[keep])

    @staticmethod
    def concat(sets: Sequence[FaceSet]) -> FaceSet:
        return FaceSet(*(np.concatenate([getattr(s, f) for s in sets]) for f in ("crops", "labels", "groups", "landmarks")))

    def split(self, fraction: float, rng: np.random.Generator) -> tuple[FaceSet, FaceSet]:
        """Group-disjoint train/validation split, per label, at least one group each side when possible."""
        val = np.zeros(len(self), bool)
        for label in np.unique(self.labels):
            groups = np.unique(self.groups[self.labels == label])
            if len(groups) < 2:
                log.warning("only one %s source (%s): validation uses its last quarter of frames instead of a whole "
                            "source (not video-disjoint)", "fake" if label else "real", groups[0])
                idx = np.flatnonzero(self.labels == label)
                val[idx[int(len(idx) * (1 - fraction)):]] = True
                continue
            n_val = min(len(groups) - 1, max(1, int(round(fraction * len(groups)))))
            picked = rng.choice(groups, n_val, replace=False)
            val |= (self.labels == label) & np.isin(self.groups, picked)
        return self.subset(~val), self.subset(val)


# -- augmentation (camera and resolution differences, and the robustness sweep's perturbations) --------
def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``uint8 (S,S,3) RGB`` -> the same, as another camera might have taken it; all draws from ``rng``.

    In this order, each on its own coin: colour jitter (saturation, contrast, brightness; 0.3),
    exposure (gamma 0.6-1.6, gain 0.55-1.25, contrast 0.6-1.2: dim rooms, low-contrast sensors; 0.3),
    white balance (per-channel gains 0.85-1.15; 0.3), gray (colour crops only; 0.15, so gray stills
    such as ORL's are not a shortcut), down-up resize (0.4: half the time to 20-50 % of the crop, a face
    filmed at low resolution, else to 50-90 %), Gaussian blur (0.3), noise (0.3), JPEG quality 30-95
    (0.3). The same calls apply to reals and fakes, so none of it tells the classes apart.
    """
    out = image
    if rng.random() < 0.3:
        hsv = cv2.cvtColor(out, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 1] *= rng.uniform(0.7, 1.3)
        hsv[..., 2] = (hsv[..., 2] - 128) * rng.uniform(0.8, 1.2) + 128 + rng.uniform(-20, 20)
        out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB)
    if rng.random() < 0.3:
        gamma, gain, contrast = rng.uniform(0.6, 1.6), rng.uniform(0.55, 1.25), rng.uniform(0.6, 1.2)
        level = (np.arange(256, dtype=np.float32) / 255) ** gamma * 255 * gain
        out = cv2.LUT(out, np.clip(level, 0, 255).astype(np.uint8))
        mean = float(out.mean())
        out = np.clip((out - mean) * contrast + mean, 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        gains = rng.uniform(0.85, 1.15, 3).astype(np.float32)
        out = np.clip(out * (gains / gains.mean()), 0, 255).astype(np.uint8)
    if rng.random() < 0.15 and _is_colour(out):
        out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    if rng.random() < 0.4:
        size = out.shape[0]
        low = rng.random() < 0.5
        small = max(8, int(size * (rng.uniform(0.2, 0.5) if low else rng.uniform(0.5, 0.9))))
        up = cv2.INTER_CUBIC if rng.random() < 0.5 else cv2.INTER_LINEAR
        out = cv2.resize(cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (size, size), interpolation=up)
    if rng.random() < 0.3:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.5))
    if rng.random() < 0.3:
        out = np.clip(out + rng.normal(0, rng.uniform(2, 8), out.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 96))])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return out


def jitter(image: np.ndarray, boundary: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Another face aligner's crop: with probability 0.3 the crop ``uint8 (S,S,3)`` and its blending boundary
    ``float32 (S,S)`` rotated by up to 12 degrees, scaled by 0.9-1.12 and shifted by up to 5 %, together."""
    if rng.random() >= 0.3:
        return image, boundary
    size = image.shape[0]
    matrix = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-12, 12), rng.uniform(0.9, 1.12))
    matrix[:, 2] += rng.uniform(-0.05, 0.05, 2) * size
    return (cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101),
            cv2.warpAffine(boundary, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT))


def _is_colour(image: np.ndarray) -> bool:
    """Whether an RGB crop has colour (a gray still stored as RGB has three equal channels)."""
    return bool((image != image[..., :1]).any())


class _Samples:
    """Training samples: (image, label, boundary). With ``blend``, sample 2i is real crop i and 2i+1
    a self-blend of it, redrawn each epoch from (seed, epoch, i) so a resumed run sees the same data.
    A crop no draw turns into a fake (``NoFaceError``: a flat face) is given as the real it is, label 0;
    ``redrawn`` and ``unblended`` count those draws."""

    def __init__(self, faces: FaceSet, blend: bool, config: TrainConfig):
        self.faces, self.blend, self.config = faces, blend, config
        self.redrawn = self.unblended = 0

    def __len__(self) -> int:
        return 2 * len(self.faces) if self.blend else len(self.faces)

    def get(self, index: int, epoch: int, augmented: bool) -> tuple[np.ndarray, int, np.ndarray]:
        rng = np.random.default_rng([self.config.seed, epoch, index])
        i = index // 2 if self.blend else index
        image, label = self.faces.crops[i], int(self.faces.labels[i])
        boundary = np.zeros(image.shape[:2], np.float32)
        if self.blend and index % 2:
            kind = "fwa" if rng.random() < self.config.fwa_share else "sbi"
            try:
                made = self_blend(image, self.faces.landmarks[i], rng, kind)
            except NoFaceError:
                self.unblended += 1
            else:
                image, label, boundary = made.image, 1, made.boundary
                self.redrawn += made.redrawn
        if augmented and rng.random() < 0.5:
            image = image[:, ::-1].copy()
            boundary = boundary[:, ::-1].copy()
        if augmented:
            image, boundary = jitter(image, boundary, rng)
            image = augment(image, rng)
        return image, label, boundary


def fit_detector(detector: CNNDetector, *, real: FaceSet, fake: FaceSet | None, out: str | os.PathLike,
                 config: TrainConfig = TrainConfig(), progress: bool = True, watch_fake: FaceSet | None = None) -> dict:
    """Train ``detector`` in place; returns the run summary (also in ``out/summary.json``).

    ``watch_fake`` (real-only training): fakes the detector never trains on, scored against the
    held-out reals each epoch as ``fake_auc`` for information; the best checkpoint is still chosen
    on the self-blended validation, so no deepfake influences the model.
    """
    blend = fake is None
    skipped = {}
    if blend:
        real, skipped = usable_for_blending(real)
    with outputs.output_folder(out, "a detector training run") as out:  # the lock sweeps killed writers' temporaries
        return _fit(detector, real=real, fake=fake, out=out, config=config, progress=progress, watch_fake=watch_fake,
                    skipped=skipped)


def usable_for_blending(real: FaceSet) -> tuple[FaceSet, dict[str, int]]:
    """The crops of ``real`` the self-blend can use, and the count of the others per reason (logged).

    ``NoFaceError`` (one line, what to do) when none is usable."""
    if len(real) == 0:
        return real, {}
    ok, reasons = blendable(real.landmarks, real.crops.shape[1])
    why = ", ".join(f"{n} with {reason}" for reason, n in reasons.items())
    if not ok.any():
        raise NoFaceError(f"none of the {len(real)} real crops can be self-blended ({why}): the artifacts training "
                          "pastes each face through its 68 landmarks; extract the faces with landmarks (`fakebench "
                          "faces extract` without --no-landmarks) or pass the videos/images themselves")
    if not ok.all():
        log.warning("skipping %d of %d real crops the self-blend cannot use (%s); training on the other %d "
                    "(extract them with landmarks to use them)", int((~ok).sum()), len(real), why, int(ok.sum()))
    return real.subset(ok), reasons


def _fit(detector: CNNDetector, *, real: FaceSet, fake: FaceSet | None, out: Path, config: TrainConfig,
         progress: bool, watch_fake: FaceSet | None, skipped: dict[str, int]) -> dict:
    import torch

    from fakebench.runtime import env_info, seed_everything

    rng = seed_everything(config.seed)
    blend = fake is None
    train_real, val_real = real.split(config.val_fraction, rng)
    if blend:
        train, val = train_real, _blended_validation(val_real, config)
    else:
        train_fake, val_fake = fake.split(config.val_fraction, rng)
        train, val = FaceSet.concat([train_real, train_fake]), FaceSet.concat([val_real, val_fake])
    samples = _Samples(train, blend, config)
    steps = config.steps_per_epoch or max(1, -(-len(samples) // config.batch_size))
    model = detector.model
    params = list(detector.parameters())
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.epochs * steps))
    settings = {"detector": detector.name, "detector_config": to_dict(detector.config), "train": to_dict(config),
                "train_crops": len(train), "val_crops": len(val), "seed": config.seed}
    epoch, step, best, history = 0, 0, -1.0, []
    last = out / "last.pt"
    if last.exists():
        epoch, step, best, history = _resume(last, detector, optimizer, schedule, settings)
        log.info("resuming %s at epoch %d step %d (best validation AUC so far %.3f)", out, epoch + 1, step, best)
    else:
        save_config(config, out / "train.yaml")
        write_json(out / "env.json", {**env_info(device=str(detector._device), seed=config.seed), **settings})
    cuda = detector._device.type == "cuda"
    started = time.monotonic()
    stopped = False
    while epoch < config.epochs and not stopped:
        order = np.random.default_rng([config.seed, epoch, 7]).permutation(len(samples))
        order = np.resize(order, steps * config.batch_size)  # repeat when steps_per_epoch asks for more
        model.train()
        bar = tqdm(total=steps, initial=step, desc=f"{detector.name} epoch {epoch + 1}/{config.epochs}", unit="step",
                   disable=not progress, leave=False)
        seen, tic, losses = 0, time.monotonic(), []
        while step < steps:
            idx = order[step * config.batch_size:(step + 1) * config.batch_size]
            items = [samples.get(int(i), epoch, config.augment) for i in idx]
            x = detector.prepare(np.stack([it[0] for it in items]))
            y = torch.tensor([it[1] for it in items], dtype=torch.float32, device=detector._device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                logits, boundary = detector.forward(x)
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
                if boundary is not None and config.boundary_weight > 0:
                    h, w = boundary.shape[-2:]
                    target = torch.from_numpy(np.stack([cv2.resize(it[2], (w, h), interpolation=cv2.INTER_AREA)
                                                        for it in items]))[:, None].to(detector._device)
                    loss = loss + config.boundary_weight * torch.nn.functional.binary_cross_entropy_with_logits(
                        boundary.float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
            seen += len(idx)
            losses.append(loss.item())
            rate = seen / max(time.monotonic() - tic, 1e-9)
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.3f}", img_s=f"{rate:.1f}")
            bar.update(1)
            if config.minutes and time.monotonic() - started > config.minutes * 60:
                stopped = True
                break
        bar.close()
        if samples.redrawn or samples.unblended:
            log.info("epoch %d: %d self-blends changed (nearly) nothing and were drawn again; %d crops gave no fake in "
                     "%d draws and were trained as reals", epoch + 1, samples.redrawn, samples.unblended, TRIES)
            samples.redrawn = samples.unblended = 0
        if stopped and step < steps:
            _checkpoint(last, detector, optimizer, schedule, epoch, step, best, history, settings)
            log.info("time limit of %g min reached at epoch %d step %d/%d: checkpointed, run again to continue",
                     config.minutes, epoch + 1, step, steps)
            break
        scores = detector.score_frames(val.crops)  # val_real's crops come first (see the concat above)
        auc = _auc(val.labels, scores)
        detector.thresholds = calibrate(scores[:len(val_real)], val_real.groups)
        history.append({"epoch": epoch + 1, "train_loss": round(float(np.mean(losses)) if losses else float("nan"), 5),
                        "val_auc": round(auc, 5), "images_per_s": round(rate, 2) if losses else None,
                        "seconds": round(time.monotonic() - tic, 1),
                        **{f"threshold_{k}": (detector.thresholds or {}).get(k) for k in ("fpr1", "fpr5")}})
        if watch_fake is not None:
            watched = np.concatenate([scores[:len(val_real)], detector.score_frames(watch_fake.crops)])
            history[-1]["fake_auc"] = round(_auc(np.r_[np.zeros(len(val_real)), np.ones(len(watch_fake))], watched), 5)
        log.info("epoch %d/%d: loss %.4f, validation AUC %.4f, %.1f images/s, thresholds at 1/5 %% FPR on %d held-out "
                 "reals %s/%s", epoch + 1, config.epochs, history[-1]["train_loss"], auc, rate if losses else 0.0,
                 len(val_real), history[-1]["threshold_fpr1"], history[-1]["threshold_fpr5"])
        if auc > best:
            best = auc
            detector.save(out / "best.pt", extra={"val_auc": auc, "epoch": epoch + 1, "thresholds": detector.thresholds})
        epoch, step = epoch + 1, 0
        _checkpoint(last, detector, optimizer, schedule, epoch, step, best, history, settings)
    _write_history(out / "history.csv", history)
    if not (out / "best.pt").exists():  # no epoch finished (time limit) or none had a validation AUC
        thresholds = calibrate(detector.score_frames(val_real.crops), val_real.groups) if len(val_real) else None
        detector.save(out / "best.pt", extra={"val_auc": None, "epoch": epoch, "thresholds": thresholds})
    summary = {"out": str(out), "epochs_done": epoch, "epochs": config.epochs, "best_val_auc": round(best, 5),
               "thresholds": _saved_thresholds(out / "best.pt"), "history": history, "finished": epoch >= config.epochs,
               **({"skipped_crops": skipped} if skipped else {}), **settings}
    write_json(out / "summary.json", summary)
    return summary


# -- calibrated operating points ---------------------------------------------------------------------
FPR_TARGETS = {"fpr1": 0.01, "fpr5": 0.05}


def calibrate(real_scores: np.ndarray, groups: np.ndarray) -> dict | None:
    """The frame-score thresholds at 1 % and 5 % false positives on held-out reals.

    ``real_scores`` ``float (n,)``: the detector's scores of real crops it never trained on (the
    validation reals of ``fit_detector``), NaN ignored; ``groups`` their sources. For a target
    rate a, the threshold is the smallest t with ``mean(real_scores > t) <= a`` (a score above t
    is called fake): the empirical (1 - a) quantile by the inverted-CDF rule (numpy's
    ``method="inverted_cdf"``), i.e. the ceil((1 - a) n)-th smallest real score, one of the scores
    itself. With fewer than 100 reals the 1 % threshold is the highest real score (fewer than 20:
    the 5 % one too). Returns ``{"fpr1", "fpr5", "n_real", "groups", "from"}`` (``groups``: the
    sorted source names), or None without any scored real.
    """
    scores = np.asarray(real_scores, np.float64).reshape(-1)
    finite = np.isfinite(scores)
    scores, groups = np.sort(scores[finite]), np.asarray(groups, object).reshape(-1)[finite]
    n = len(scores)
    if n == 0:
        return None
    names = sorted({str(g) for g in groups})
    out = {}
    for name, rate in FPR_TARGETS.items():
        allowed = int(np.floor(rate * n + 1e-9))  # reals that may score above the threshold
        out[name] = float(scores[n - 1 - allowed])
    return {**out, "n_real": n, "groups": names,
            "from": f"held-out validation reals of training ({len(names)} group{'s' if len(names) != 1 else ''})"}


def _saved_thresholds(path: Path) -> dict | None:
    import torch

    return torch.load(path, map_location="cpu", weights_only=True).get("thresholds")


def _blended_validation(val_real: FaceSet, config: TrainConfig) -> FaceSet:
    """Validation for real-only training: the held-out reals and one fixed self-blend of each (none of
    a crop that no draw turns into a fake)."""
    rng = np.random.default_rng([config.seed, 99])
    fakes, keep = [], []
    for i, (crop, marks) in enumerate(zip(val_real.crops, val_real.landmarks)):
        try:
            fakes.append(self_blend(crop, marks, rng, "fwa" if rng.random() < config.fwa_share else "sbi").image)
            keep.append(i)
        except NoFaceError:
            pass
    if len(keep) < len(val_real):
        log.warning("%d of %d validation crops gave no self-blended fake in %d draws (flat or black faces); "
                    "validating on the others' fakes", len(val_real) - len(keep), len(val_real), TRIES)
    if not fakes:
        return val_real
    fake = FaceSet(np.stack(fakes), np.ones(len(fakes), np.int64), val_real.groups[keep], val_real.landmarks[keep])
    return FaceSet.concat([val_real, fake])


def validation_auc(detector: CNNDetector, val: FaceSet) -> float:
    if len(np.unique(val.labels)) < 2:
        return float("nan")
    return _auc(val.labels, detector.score_frames(val.crops))


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(np.unique(labels)) == 2 else float("nan")


def _checkpoint(path: Path, detector, optimizer, schedule, epoch, step, best, history, settings) -> None:
    import torch

    payload = {"format_version": 1, "detector": detector.name, "settings": settings,
               "state_dict": {k: {n: t.detach().cpu() for n, t in v.items()} for k, v in detector.state().items()},
               "optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(), "epoch": epoch, "step": step,
               "best": best, "history": history,
               "torch_rng": torch.get_rng_state()}  # so a resumed run goes on as if never stopped (dropout draws)
    save_torch(payload, path)


def _resume(path: Path, detector, optimizer, schedule, settings) -> tuple[int, int, float, list]:
    import torch

    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  (torch raises many types for a damaged file)
        raise CheckpointError(f"{path}: cannot resume, the checkpoint is unreadable ({type(err).__name__}); delete it "
                              "to start over") from err
    if payload.get("settings") != settings:
        changed = sorted(k for k in settings if payload.get("settings", {}).get(k) != settings[k])
        raise CheckpointError(f"{path.parent}: holds a run with other settings ({', '.join(changed)} differ): pass "
                              "another --out, or the same settings to resume")
    detector.load_state(payload["state_dict"], where=str(path))
    optimizer.load_state_dict(payload["optimizer"])
    schedule.load_state_dict(payload["schedule"])
    if "torch_rng" in payload:  # checkpoints of older fakebench versions have none
        torch.set_rng_state(payload["torch_rng"])
    return int(payload["epoch"]), int(payload["step"]), float(payload["best"]), list(payload["history"])


def _write_history(path: Path, history: list[dict]) -> None:
    if not history:
        return
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        # every row's columns: a run resumed from an older fakebench has early rows without the threshold ones
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in history for k in row)))
        writer.writeheader()
        writer.writerows(history)


# -- inputs -------------------------------------------------------------------------------------------
def read_export(folder: Path) -> FaceTrack:
    """The track of a ``fakebench faces extract`` folder, its crops read back from ``crops/NNNNNN.png``
    (the export's ``track.npz`` holds the geometry only)."""
    track = FaceTrack.load(folder / "track.npz")
    if len(track.crops) == len(track) or track.n_with_face == 0:
        return track
    crops = np.zeros((len(track), track.size, track.size, 3), np.uint8)
    for i in np.flatnonzero(track.has_face):
        file = folder / "crops" / f"{int(track.frames[i]):06d}.png"
        image = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if image is None or image.shape[:2] != (track.size, track.size):
            found = "missing or unreadable" if image is None else f"{image.shape[1]}x{image.shape[0]}"
            raise FakebenchError(f"{file}: expected the {track.size}x{track.size} face crop of frame {track.frames[i]} "
                                 f"named in {folder / 'track.npz'}, found it {found}: run `fakebench faces extract` again")
        crops[i] = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return replace(track, crops=crops)


def collect_faces(paths: Sequence[str | os.PathLike], detector: Detector, *, frames: int | None = None,
                  device: str = "auto", progress: bool = True) -> list[tuple[FaceTrack, str]]:
    """Face tracks of every input: videos, images, folders of them (recursively), or folders written
    by ``fakebench faces extract`` (their ``track.npz`` is read, no detection). Each comes with its
    group: the file, or the folder for stills (an identity folder such as ORL's ``s1``)."""
    from fakebench.media import IMAGE_EXTS, VIDEO_EXTS, is_image

    request = detector.request if frames is None else replace(detector.request, count=frames)
    extractor = request.extractor(device=device)
    found: list[tuple[FaceTrack, str]] = []
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir() and (path / "track.npz").is_file():
            found.append((read_export(path), str(path)))
        elif path.is_dir():
            tracks = sorted(p.parent for p in path.rglob("track.npz"))
            found += [(read_export(t), str(t)) for t in tracks]
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in VIDEO_EXTS | IMAGE_EXTS
                            and not any(p.is_relative_to(t) for t in tracks))
        elif path.is_file():
            files.append(path)
        else:
            raise FakebenchError(f"{path}: no such file or folder; expected videos, images or folders of them")
    for path in tqdm(files, desc="faces", unit="file", disable=not progress or len(files) < 2, leave=False):
        try:
            track = request.extract(extractor, path)
        except FakebenchError as err:
            log.warning("skipping %s: %s", path, err)
            continue
        found.append((track, str(path.parent if is_image(path) else path)))
    if not found:
        raise FakebenchError(f"no usable media in {', '.join(map(str, paths))}: expected videos, images or "
                             "`fakebench faces extract` folders")
    return found
