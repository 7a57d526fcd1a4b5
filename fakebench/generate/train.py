"""Training the face-swap autoencoder: one run folder, resumable at any checkpoint.

Each step draws ``batch`` faces of every identity, warps them (``warp.py``), passes all of them
through the shared encoder at once and each identity's share through its own decoder, and takes
one Adam step on the summed loss (``losses.py``). On CUDA the step runs under bf16 autocast with
channels_last tensors; on a CPU with native bf16 (AVX-512 BF16 / AMX) bf16 autocast too
(``precision: auto``), else fp32.

The run folder::

    config.yaml      the TrainConfig (architecture + training settings); a resume must agree with it
    env.json         commit, package versions, device, seed
    data.json        per identity and input: sha256, frame ranges trained on and held out, face counts
    checkpoint.pt    {format_version, kind, config, state_dict, step, optimizer, rng}: the latest, atomic
    checkpoints/     step-NNNNNN.pt snapshots (with snapshot_every > 0, or at the budget fractions in snapshots)
    log.csv          step, training seconds (over all resumes), losses per identity, faces/s; held-out validation
    preview.png      held-out faces: A, A->A, A->B, B, B->B, B->A (also previews/step-NNNNNN.png)

A killed run resumes from its last checkpoint and takes the same next step: the checkpoint holds
the model, the optimizer, the step, the losses of the log row in progress and the python/numpy/torch
random states, and the data are re-extracted from the face cache in the same order. Run to the same
``--steps``, a run killed any number of times ends with the checkpoint and log.csv of one that never was.

The folder is fakebench's own (``outputs.claim``: a non-empty folder it did not write is refused) and
one job writes it at a time (``outputs.lock``, held from ``setup`` to the end of ``fit``). Every file a
later run reads is replaced atomically and durably (``files``); log.csv grows by whole lines, and a
torn last line (a kill mid-append) is dropped when it is read. A full or read-only disk is one
``OutputError`` line, and the previous checkpoint stays as it was.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import io
import json
import logging
import math
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
import torch

from fakebench import outputs
from fakebench.config import from_dict, save_config, to_dict
from fakebench.errors import CheckpointError, ConfigError
from fakebench.files import append_line, complete_lines, save_torch, write_json, write_text
from fakebench.generate.data import DataConfig, FaceSet, Source, load_faces
from fakebench.generate.losses import face_map, focus, l1_error, priority_map, split_face_map, swap_loss
from fakebench.generate.model import ModelConfig, SwapModel
from fakebench.generate.warp import WarpConfig, training_pair

log = logging.getLogger("fakebench.generate")

FORMAT_VERSION = 1
KIND = "fakebench.generate.SwapModel"
CHECKPOINT = "checkpoint.pt"
PREVIEW_FACES = 4  # rows of the preview grid
VAL_FACES = 64  # held-out faces per identity in each validation


@dataclass(frozen=True)
class TrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    warp: WarpConfig = field(default_factory=WarpConfig)
    # The recipe below was measured on the demo's faces (2 CPU cores, 1,400 steps, 48 held-out frames per direction;
    # BENCHMARKS.md, "Generator"): against the 2017 recipe (constant lr 3e-4, whole-crop loss, warp throughout, no
    # GAN term) sharpness went from 0.19 / 0.23 of real to 0.40 / 0.70, head-turn correlation 0.59 / 0.73 -> 0.87 / 0.81.
    batch: int = 8  # faces of EACH identity per step
    lr: float = 6e-4  # Adam, the peak of the schedule
    beta1: float = 0.5  # faceswap's Adam betas
    beta2: float = 0.999
    priority: float = 2.0  # extra L1 weight on eyes and mouth (0 = off)
    background: float = 0.1  # loss weight off the face hull (faceswap's penalized mask loss); 1 = the whole crop alike
    schedule: Literal["constant", "cosine"] = "cosine"  # cosine: from lr down to lr_final over the run's budget
    warmup: int = 100  # steps of linear warm-up from lr/10 to lr
    lr_final: float = 0.05  # cosine's end, as a fraction of lr
    perceptual: float = 0.0  # weight of the ImageNet-feature term (losses.FeatureLoss); 0 = off (not measured to pay)
    warp_until: float = 0.7  # fraction of the budget after which the grid warp stops (sharper late steps); 1 = always
    adversarial: float = 0.1  # weight of the patch-discriminator term (adversarial.py, the GAN variant); 0 = off
    adversarial_from: float = 0.25  # fraction of the budget before the adversarial term starts
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA and on CPUs with native bf16
    compile: bool = False  # torch.compile the training step (worth it on CUDA for long runs)
    save_every: int = 200  # steps between checkpoints (also at the end and on SIGINT/SIGTERM)
    val_every: int = 200  # steps between validations on held-out faces
    preview_every: int = 200  # steps between preview grids
    snapshot_every: int = 0  # keep checkpoints/step-N.pt every N steps (detectability-vs-step sweeps); 0 = off
    snapshots: tuple[float, ...] = ()  # also keep one when these fractions of fit's budget are spent (e.g. 0.25, 0.5)
    log_every: int = 10  # steps between log.csv rows
    seed: int = 0

    def __post_init__(self):
        if self.batch < 1 or self.lr <= 0:
            raise ConfigError(f"batch must be >= 1 and lr > 0, got batch={self.batch}, lr={self.lr}")
        for name in ("save_every", "val_every", "preview_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.snapshot_every < 0 or self.priority < 0:
            raise ConfigError("snapshot_every and priority must be >= 0")
        if not all(0 <= v <= 1 for v in (self.background, self.lr_final, self.warp_until, self.adversarial_from)) \
                or self.warmup < 0 or self.perceptual < 0 or self.adversarial < 0:
            raise ConfigError(f"background, lr_final, warp_until and adversarial_from are fractions in [0, 1], warmup, "
                              f"perceptual and adversarial >= 0; got background={self.background}, lr_final="
                              f"{self.lr_final}, warp_until={self.warp_until}, adversarial_from={self.adversarial_from}, "
                              f"warmup={self.warmup}, perceptual={self.perceptual}, adversarial={self.adversarial}")
        if any(not 0 < f < 1 for f in self.snapshots):
            raise ConfigError(f"snapshots are fractions of the budget in (0, 1) (the end is checkpoint.pt itself), got "
                              f"{list(self.snapshots)}")
        if self.schedule not in ("constant", "cosine"):
            raise ConfigError(f"schedule must be 'constant' or 'cosine', got {self.schedule!r}")


@dataclass
class TrainResult:
    run: Path
    step: int
    stopped: str  # "steps", "minutes" or "interrupted"
    loss: float | None  # mean training loss over the last log interval
    val: dict  # held-out validation of the last step: val_loss_<id>, val_l1_<id>
    faces_per_s: float | None
    seconds: float


def bf16_available(device: str) -> bool:
    """Whether bf16 autocast runs natively here (CUDA with bf16, or a CPU with AVX-512 BF16/AMX)."""
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve_precision(precision: str, device: str) -> str:
    if precision == "auto":
        return "bf16" if bf16_available(device) else "fp32"
    return precision


class Trainer:
    """Trains one run folder. Nothing heavy happens here; ``setup`` loads faces, builds or resumes the model."""

    def __init__(self, config: TrainConfig, run: str | os.PathLike, *, device: str = "auto", progress: bool = True,
                 workers: int | None = None):
        self.config = config
        self.run = Path(run)
        self.device_name = device
        self.progress = progress
        self.workers = workers  # threads warping faces ahead of the step; None: 0 on CPU, up to 8 on CUDA
        self._pool = None
        self._pending = None
        self.faces: dict[str, FaceSet] = {}
        self.step_count = 0
        self.seconds = 0.0  # training time of the checkpoint this run resumed from
        self._clock: tuple[float, float] | None = None
        self._horizon: tuple[str, float] | None = None  # ("steps", total) or ("seconds", total): the cosine's end
        self.last_d_loss: float | None = None  # the discriminators' loss in the last adversarial step
        self.model: SwapModel | None = None
        self._stop_requested = False
        self._window: list[dict] = []  # losses of the steps since the last log row (a checkpoint keeps them)
        self._saved_step = 0  # the step of the newest checkpoint.pt
        self._lock: contextlib.ExitStack | None = None  # the run folder's lock while this trainer writes it

    # -- set-up ---------------------------------------------------------------------------------
    def setup(self, sources: dict[str, list[Source]] | None = None, *, read_only: bool = False) -> Trainer:
        """Load the faces (sources, or those recorded in the run) and build the model, resuming if the run has a checkpoint.

        The run folder is claimed first (``OutputError`` for a non-empty folder fakebench did not write,
        or one another job is writing) and stays locked until ``fit`` ends or ``close()``.
        ``read_only``: only load an existing run (for previews); write nothing into it, take no lock.
        """
        if read_only:
            return self._setup(sources, read_only=True)
        created = not self.run.exists()
        self._hold()
        try:  # (taking the lock swept what killed writers left in the run folder)
            return self._setup(sources, read_only=False)
        except BaseException:
            self._release()
            if created:  # a typo in the inputs leaves no empty run folder behind (only ever our own marker)
                with contextlib.suppress(OSError):
                    if [p.name for p in self.run.iterdir()] == [outputs.MARKER]:
                        (self.run / outputs.MARKER).unlink()
                        self.run.rmdir()
            raise

    def _hold(self) -> None:
        """Claim and lock the run folder (once; ``_release`` lets it go)."""
        if self._lock is None:
            stack = contextlib.ExitStack()
            stack.enter_context(outputs.output_folder(self.run, "a generator run", flag="--out"))
            self._lock = stack

    def _release(self) -> None:
        if self._lock is not None:
            self._lock, stack = None, self._lock
            stack.close()

    def _setup(self, sources: dict[str, list[Source]] | None, read_only: bool) -> Trainer:
        from fakebench.faces import FaceExtractor
        from fakebench.runtime import env_info, resolve_device, seed_everything

        cfg = self.config
        self.device = resolve_device(self.device_name)
        self.precision = resolve_precision(cfg.precision, self.device)
        checkpoint = self.run / CHECKPOINT
        resuming = checkpoint.exists()
        if read_only and not resuming:
            raise CheckpointError(f"{self.run}: no {CHECKPOINT} here; train first with `fakebench generate train --out "
                                  f"{self.run}`")
        if resuming:
            stored = load_run_config(self.run)
            if stored != cfg:
                raise ConfigError(f"{self.run} was started with other settings: {config_diff(stored, cfg)}; resume "
                                  "without those options, or train into a new --out folder")
        recorded = _recorded_sources(self.run, cfg.model.identities)
        if sources is None:
            if recorded is None:
                raise ConfigError(f"{self.run} has no data.json: pass the inputs of every identity (--a ... --b ...)")
            sources = recorded
        sources = {name: [Source.of(s) for s in paths] for name, paths in sources.items()}
        if tuple(sources) != cfg.model.identities:
            raise ConfigError(f"the model's identities are {list(cfg.model.identities)} but inputs were given for "
                              f"{list(sources)}: give inputs for exactly those identities, in that order")

        extractor = FaceExtractor(size=2 * cfg.model.size, margin=cfg.data.margin, device=self.device_name)
        self.faces = {name: load_faces(name, srcs, cfg.data, 2 * cfg.model.size, extractor, self.progress)
                      for name, srcs in sources.items()}
        # Seeded after the faces: a cold face cache builds MTCNN (drawing torch random numbers), a warm one does not,
        # and the model's initial weights must not depend on which (a rerun after a kill finds the cache warm).
        self.rng = seed_everything(cfg.seed)
        data_record = {name: {"sources": [dataclasses.asdict(s) for s in sources[name]], "inputs": fs.records}
                       for name, fs in self.faces.items()}
        if resuming and recorded is not None:
            old = json.loads((self.run / "data.json").read_text())
            if _fingerprint(old) != _fingerprint(data_record):
                raise ConfigError(f"{self.run} was trained on other inputs (files, frame ranges or face counts differ "
                                  "from data.json): pass the same inputs, or train into a new --out folder")
        # The map the warp moves with each face: the face hull and the eyes/mouth (masked loss), or only the latter.
        draw = face_map if cfg.background < 1 else priority_map
        self._priority = {name: np.stack([draw(m, fs.crops.shape[1]) for m in fs.landmarks])
                          if cfg.priority > 0 or cfg.background < 1 else None for name, fs in self.faces.items()}

        self.model = SwapModel(cfg.model).to(self.device)
        if self.device.startswith("cuda"):
            self.model = self.model.to(memory_format=torch.channels_last)
            torch.backends.cudnn.benchmark = True
        workers = self.workers if self.workers is not None else (
            min(8, max(1, (os.cpu_count() or 2) - 1)) if self.device.startswith("cuda") else 0)
        if workers > 0:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="warp")
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.discriminators, self.disc_optimizer = None, None
        if cfg.adversarial > 0:
            from fakebench.generate.adversarial import Discriminators

            self.discriminators = Discriminators(cfg.model.identities).to(self.device)
            self.disc_optimizer = torch.optim.Adam(self.discriminators.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self._features = None
        if cfg.perceptual > 0:
            from fakebench.generate.losses import FeatureLoss

            self._features = FeatureLoss().to(self.device)
        self._forward = torch.compile(self.model.forward_each) if cfg.compile else self.model.forward_each
        self.step_count, self._saved_step, self._window = 0, 0, []
        if resuming:
            self._resume(checkpoint, truncate_log=not read_only)
        else:  # a fresh start (or a restart of a run killed before its first checkpoint: its log rows go)
            save_config(cfg, self.run / "config.yaml")
            write_json(self.run / "data.json", data_record)
            _truncate_log(self.run / "log.csv", 0)
        if not read_only:
            write_json(self.run / "env.json", {**env_info(self.device, cfg.seed), "precision": self.precision,
                                              "model_params": self.model.n_params()})
        self._val_sets = {name: _spread(fs.held_out_idx if len(fs.held_out_idx) else fs.train_idx, VAL_FACES)
                          for name, fs in self.faces.items()}
        log.info("model %s: %.1f M parameters on %s (%s)", _describe(cfg.model), self.model.n_params() / 1e6,
                 self.device, self.precision)
        return self

    def _resume(self, path: Path, truncate_log: bool = True) -> None:
        ckpt = load_checkpoint(path, expect=self.config.model)
        log.info("%s: %s step %d", self.run, "resuming at" if truncate_log else "loaded", int(ckpt["step"]))
        self.model.load_state_dict(ckpt["state_dict"])
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
            if self.discriminators is not None and "discriminators" in ckpt:
                self.discriminators.load_state_dict(ckpt["discriminators"])
                self.disc_optimizer.load_state_dict(ckpt["disc_optimizer"])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(f"{path}: optimizer state does not fit the model ({err}); the file is damaged or "
                                  "foreign: train into a new --out folder") from err
        self.step_count = self._saved_step = int(ckpt["step"])
        self.seconds = float(ckpt.get("seconds", 0.0))
        self._window = [dict(w) for w in ckpt.get("log_window", [])]
        rng = ckpt["rng"]
        random.setstate(rng["python"])
        self.rng.bit_generator.state = rng["numpy"]
        torch.set_rng_state(rng["torch"])
        if rng.get("cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        if truncate_log:
            _truncate_log(self.run / "log.csv", self.step_count)

    # -- one step -------------------------------------------------------------------------------
    def _draw(self, step: int | None = None) -> tuple[dict, list[tuple]]:
        """Draw the batch of ``step`` (default: the next one, ``step_count``): its faces and one seed per pair from
        the run's generator (the only draws a step makes).

        Returns the generator state from before the draws (what a checkpoint stores while this batch
        is still pending) and the jobs. Each pair has its own seed, so pairs can be warped in any
        order, on any number of threads, with the same result.
        """
        cfg = self.config
        state = copy.deepcopy(self.rng.bit_generator.state)
        step = self.step_count if step is None else step
        late = cfg.warp_until < 1 and self._progress(step) >= cfg.warp_until  # by the step it is for, prefetched or not
        warp = dataclasses.replace(cfg.warp, grid_noise=0.0) if late else cfg.warp
        jobs = []
        for name, fs in self.faces.items():
            idx = fs.train_idx[self.rng.integers(0, len(fs.train_idx), size=cfg.batch)]
            seeds = self.rng.integers(0, 2**63, size=cfg.batch)
            prio = self._priority[name]
            jobs += [(fs.crops[i], None if prio is None else prio[i], int(seed), warp) for i, seed in zip(idx, seeds)]
        return state, jobs

    def _pair(self, job: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        face, prio, seed, warp = job
        return training_pair(face, prio, np.random.default_rng(seed), warp, self.config.model.size)

    def _submit(self, step: int | None = None) -> tuple[dict, list]:
        state, jobs = self._draw(step)
        if self._pool is None:
            return state, [self._pair(job) for job in jobs]
        return state, [self._pool.submit(self._pair, job) for job in jobs]

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The next batch as tensors; with worker threads the batch after it is warped while this step runs."""
        if self._pending is None:
            self._pending = self._submit()
        _, pairs = self._pending
        self._pending = None
        if self._pool is not None:
            pairs = [f.result() for f in pairs]
            self._pending = self._submit(self.step_count + 1)  # prefetch
        inputs, targets, weights = (np.stack(a) for a in zip(*pairs))
        return _to_tensor(inputs, self.device), _to_tensor(targets, self.device), torch.from_numpy(weights).to(self.device)

    def _elapsed(self) -> float:
        """Training seconds so far, earlier runs of this folder included."""
        if self._clock is None:
            return self.seconds
        return self._clock[1] + time.perf_counter() - self._clock[0]

    def rng_state(self) -> dict:
        """The data generator's state as of the next step (before a prefetched batch's draws)."""
        return self._pending[0] if self._pending is not None else self.rng.bit_generator.state

    def _autocast(self):
        if self.precision == "bf16":
            return torch.autocast(device_type="cuda" if self.device.startswith("cuda") else "cpu", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self) -> dict:
        """One optimisation step on every identity; returns ``{"loss", "loss_<id>"...}`` as floats."""
        cfg = self.config
        self.model.train()
        x, y, w = self._batch()
        face = None
        if cfg.background < 1:
            face, w = split_face_map(w)
        for group in self.optimizer.param_groups:
            group["lr"] = self.lr_at(self.step_count)
        with self._autocast():
            out = self._forward(x, cfg.batch)
        losses = {}
        total = 0.0
        adversarial = self.discriminators is not None and self._progress() >= cfg.adversarial_from
        judged = []
        for k, name in enumerate(cfg.model.identities):
            part = slice(k * cfg.batch, (k + 1) * cfg.batch)
            loss = swap_loss(out[part], y[part], w[part], cfg.priority, face=None if face is None else face[part],
                             background=cfg.background)
            if self._features is not None or adversarial:  # the extra terms judge the face, as the loss does
                pred = focus(out[part].float(), y[part], None if face is None else face[part], cfg.background)
                if self._features is not None:
                    loss = loss + cfg.perceptual * self._features(pred, y[part])
                if adversarial:
                    loss = loss + cfg.adversarial * self.discriminators.generator_loss(name, pred)
                    judged.append((name, y[part], pred.detach()))
            losses[f"loss_{name}"] = loss
            total = total + loss
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        if judged:
            self.disc_optimizer.zero_grad(set_to_none=True)
            d_loss = sum(self.discriminators.discriminator_loss(name, real, fake) for name, real, fake in judged)
            d_loss.backward()
            self.disc_optimizer.step()
            self.last_d_loss = float(d_loss.detach())
        self.step_count += 1
        return {"loss": float(total.detach()), **{k: float(v.detach()) for k, v in losses.items()}}

    def _progress(self, step: int | None = None) -> float:
        """How far into ``fit``'s budget the run is, in [0, 1] (0 outside ``fit``)."""
        if self._horizon is None:
            return 0.0
        kind, end = self._horizon
        done = (self.step_count if step is None else step) / end if kind == "steps" else self._elapsed() / end
        return min(max(done, 0.0), 1.0)

    def lr_at(self, step: int) -> float:
        """The learning rate of step ``step`` (0-based): warm-up, then constant or cosine over the budget.

        The cosine's horizon is the budget ``fit`` was given: its total steps, else the fraction of
        its minutes spent (so a time-budgeted run anneals by the clock and still ends at lr_final).
        """
        cfg = self.config
        if step < cfg.warmup:
            return cfg.lr * (0.1 + 0.9 * step / cfg.warmup)
        if cfg.schedule == "constant" or self._horizon is None:
            return cfg.lr
        done = self._progress(step)
        return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * done)))

    def close(self) -> None:
        """Stop the warp threads and let the run folder's lock go (if ``fit`` has not already)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._pending = None, None
        self._release()

    # -- held-out faces -------------------------------------------------------------------------
    def held_out_faces(self, name: str, idx: np.ndarray) -> torch.Tensor:
        """Held-out crops of ``name`` at the model size, unwarped: ``float (N,3,S,S)`` on the device."""
        size = self.config.model.size
        crops = self.faces[name].crops[idx]
        small = np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
        return _to_tensor(small, self.device)

    @torch.no_grad()
    def validate(self) -> dict:
        """Reconstruction of held-out faces by their own decoder: ``val_loss_<id>`` (L1 + 1 - SSIM), ``val_l1_<id>``."""
        self.model.eval()
        out = {}
        for name, idx in self._val_sets.items():
            x = self.held_out_faces(name, idx)
            with self._autocast():
                y = self.model(x, name)
            out[f"val_loss_{name}"] = float(swap_loss(y, x))
            out[f"val_l1_{name}"] = float(l1_error(y, x).mean())
        return out

    @torch.no_grad()
    def preview(self) -> Path:
        """Write ``preview.png`` (and ``previews/step-N.png``): per identity X its faces, X->X, then X->each other."""
        from fakebench.media import write_image

        image = self.preview_image()
        write_image(self.run / "previews" / f"step-{self.step_count:06d}.png", image)
        return write_image(self.run / "preview.png", image)

    @torch.no_grad()
    def preview_image(self) -> np.ndarray:
        """The preview grid as ``uint8 (H,W,3) RGB``: per identity X its held-out faces, X->X, then X->each other."""
        self.model.eval()
        columns = []
        for name, idx in self._val_sets.items():
            x = self.held_out_faces(name, np.resize(_spread(idx, PREVIEW_FACES), PREVIEW_FACES))
            columns.append(x)
            for other in [name] + [n for n in self.config.model.identities if n != name]:
                with self._autocast():
                    columns.append(self.model(x, other).float())
        grid = torch.cat([torch.cat(list(col), dim=1) for col in columns], dim=2)  # (3, rows*S, cols*S)
        image = (grid.clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255 + 0.5).astype(np.uint8)
        if self.config.model.size < 128:
            image = cv2.resize(image, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
        return image

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self, snapshot: bool = False) -> Path:
        """Write ``checkpoint.pt`` atomically and durably (a snapshot first, when due or when ``snapshot``).

        The snapshot goes first: once checkpoint.pt holds a step, every file of that step is written,
        so a kill before it only costs redoing the step. A full disk is one ``OutputError`` line and
        the previous checkpoint.pt stays loadable.
        """
        state = {
            "format_version": FORMAT_VERSION,
            "kind": KIND,
            "config": to_dict(self.config),
            "state_dict": self.model.state_dict(),
            "step": self.step_count,
            "seconds": self._elapsed(),
            "optimizer": self.optimizer.state_dict(),
            **({"discriminators": self.discriminators.state_dict(), "disc_optimizer": self.disc_optimizer.state_dict()}
               if self.discriminators is not None else {}),
            "rng": {"python": random.getstate(), "numpy": self.rng_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []},
            "log_window": list(self._window),  # losses of the log row in progress: a resumed row averages them too
        }
        every = self.config.snapshot_every
        if snapshot or (every and self.step_count % every == 0):
            save_torch({k: v for k, v in state.items() if k not in ("optimizer", "rng", "discriminators",
                                                                    "disc_optimizer", "log_window")},
                       self.run / "checkpoints" / f"step-{self.step_count:06d}.pt")
        path = self.run / CHECKPOINT
        save_torch(state, path)
        self._saved_step = self.step_count
        return path

    # -- the loop -------------------------------------------------------------------------------
    def fit(self, steps: int | None = None, minutes: float | None = None) -> TrainResult:
        """Train until ``steps`` (total, counting earlier runs) or ``minutes`` (this call) or SIGINT/SIGTERM.

        Holds the run folder's lock while it runs and lets it go when it returns or raises.
        """
        if self.model is None:
            raise RuntimeError("call setup() before fit()")
        if steps is None and minutes is None:
            raise ConfigError("give a number of steps, a time budget in minutes, or both")
        self._hold()
        try:
            return self._fit(steps, minutes)
        finally:
            self._release()

    def _fit(self, steps: int | None, minutes: float | None) -> TrainResult:
        from tqdm import tqdm

        cfg = self.config
        faces_per_step = cfg.batch * len(cfg.model.identities)
        log_file = self.run / "log.csv"
        started = time.perf_counter()
        self._clock = (started, self.seconds)  # log.csv and checkpoints count training seconds over all resumes
        deadline = started + minutes * 60 if minutes is not None else math.inf
        self._horizon = ("steps", float(steps)) if steps is not None else ("seconds", self.seconds + minutes * 60)
        rate, val, stopped, last_t = None, {}, "steps", time.perf_counter()
        bar = tqdm(total=steps, initial=self.step_count, desc="train", unit="step", disable=not self.progress,
                   dynamic_ncols=True)
        # Each step's files in this order: log row, validation, preview, snapshot, checkpoint.pt last. A kill
        # anywhere before the checkpoint's rename resumes from the one before and redoes (and re-logs) the step.
        with _graceful_stop(self):
            while steps is None or self.step_count < steps:
                if self._stop_requested:
                    stopped = "interrupted"
                    break
                if time.perf_counter() >= deadline:
                    stopped = "minutes"
                    break
                before = self._progress()
                losses = self.train_step()
                now = time.perf_counter()
                step_rate = faces_per_step / max(now - last_t, 1e-9)
                rate = step_rate if rate is None else 0.9 * rate + 0.1 * step_rate
                last_t = now
                self._window.append(losses)
                # the last step of the budget validates, previews and saves like every save_every-th (one row)
                final = (steps is not None and self.step_count >= steps) or now >= deadline or self._stop_requested
                row = None
                if self.step_count % cfg.log_every == 0:
                    row = {"step": self.step_count, "seconds": round(self._elapsed(), 1), "faces_per_s": round(rate, 1),
                           **{k: round(float(np.mean([w[k] for w in self._window])), 5) for k in losses}}
                    self._window = []
                if self.step_count % cfg.val_every == 0 or final:
                    val = self.validate()
                    row = {**(row or {"step": self.step_count, "seconds": round(self._elapsed(), 1)}),
                           **{k: round(v, 5) for k, v in val.items()}}
                if row is not None:
                    _append_log(log_file, row, cfg.model.identities)
                if self.step_count % cfg.preview_every == 0 or final:
                    self.preview()
                after = self._progress()
                snapshot = any(before < f <= after for f in cfg.snapshots)
                if snapshot or final or self.step_count % cfg.save_every == 0:
                    self.save(snapshot=snapshot)
                bar.update(1)
                bar.set_postfix(loss=f"{losses['loss']:.4f}", faces_s=f"{rate:.1f}")
            bar.close()
            if self.step_count != self._saved_step:  # steps since the last checkpoint (a signal came after the test)
                val = self.validate()
                _append_log(log_file, {"step": self.step_count, "seconds": round(self._elapsed(), 1),
                                       **{k: round(v, 5) for k, v in val.items()}}, cfg.model.identities)
                self.preview()
                self.save()
        self.seconds, self._clock, self._horizon = self._elapsed(), None, None  # the budget was this call's
        last = _last_loss(log_file)
        if stopped == "interrupted":
            log.warning("stopped at step %d; checkpoint saved, run the same command again to resume", self.step_count)
        return TrainResult(run=self.run, step=self.step_count, stopped=stopped, loss=last, val=val, faces_per_s=rate,
                           seconds=time.perf_counter() - started)


# -- checkpoints ------------------------------------------------------------------------------------
def load_checkpoint(path: str | os.PathLike, expect: ModelConfig | None = None) -> dict:
    """Load and check a checkpoint (``weights_only``); ``expect``: the architecture it must have.

    Raises ``CheckpointError`` for a missing, truncated or foreign file, another format version, or
    another architecture (naming the differing options).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint here; train first (`fakebench generate train --out {path.parent}`)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or not a torch file: "
                              f"{str(err).splitlines()[0][:120]}); use an earlier snapshot or train again") from err
    except Exception as err:  # noqa: BLE001 - torch raises UnpicklingError and others for foreign pickles
        raise CheckpointError(f"{path}: refused to load ({type(err).__name__}); it is not a fakebench generator "
                              "checkpoint") from err
    if not isinstance(ckpt, dict) or ckpt.get("kind") != KIND:
        raise CheckpointError(f"{path}: expected a fakebench generator checkpoint ({KIND}), got "
                              f"{ckpt.get('kind') if isinstance(ckpt, dict) else type(ckpt).__name__}; pass a run "
                              "made by `fakebench generate train`")
    if ckpt.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {ckpt.get('format_version')}, this fakebench reads "
                              f"{FORMAT_VERSION}; convert with the fakebench version that trained it")
    try:
        config = stored_config(ckpt["config"], where=f"{path} config")
    except (ConfigError, KeyError) as err:
        raise CheckpointError(f"{path}: its stored config does not parse ({err}); the file is foreign or damaged") from err
    if expect is not None and config.model != expect:
        raise CheckpointError(f"{path}: checkpoint of another architecture ({config_diff(config.model, expect)}); "
                              "use the matching settings or another run folder")
    model = SwapModel(config.model)
    missing, unexpected = _key_mismatch(model.state_dict(), ckpt.get("state_dict", {}))
    if missing or unexpected:
        raise CheckpointError(f"{path}: weights do not fit the architecture its config describes (missing "
                              f"{missing[:3]}, unexpected {unexpected[:3]}); the file is damaged or foreign")
    ckpt["train_config"] = config
    return ckpt


def load_model(path: str | os.PathLike, device: str = "cpu") -> tuple[SwapModel, TrainConfig, int]:
    """The model of a checkpoint (or a run folder's latest), in eval mode: ``(model, config, step)``."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT
    ckpt = load_checkpoint(path)
    model = SwapModel(ckpt["train_config"].model)
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt["train_config"], int(ckpt["step"])


# What a run stored before these options existed trained without them: a resumed old run keeps its recipe.
LEGACY_TRAINING = {"background": 1.0, "schedule": "constant", "warmup": 0, "warp_until": 1.0, "adversarial": 0.0,
                   "perceptual": 0.0}


def stored_config(data: dict, where: str) -> TrainConfig:
    """A run's stored TrainConfig (config.yaml or a checkpoint's): keys it lacks take their pre-recipe values."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of training settings, got {type(data).__name__}")
    return from_dict(TrainConfig, {**LEGACY_TRAINING, **data}, where=where)


def load_run_config(run: Path) -> TrainConfig:
    path = run / "config.yaml"
    if path.exists():
        import yaml

        try:
            return stored_config(yaml.safe_load(path.read_text()), str(path))
        except (OSError, yaml.YAMLError) as err:
            raise ConfigError(f"{path}: not readable YAML ({str(err).splitlines()[0]}); the run folder is damaged") \
                from err
    return load_checkpoint(run / CHECKPOINT)["train_config"]


def config_diff(old, new, prefix: str = "") -> str:
    """``'model.size: 64 -> 128, batch: 16 -> 8'``: the fields two configs disagree on."""
    a, b = to_dict(old), to_dict(new)
    out = []

    def walk(x, y, where):
        if isinstance(x, dict) and isinstance(y, dict):
            for key in x.keys() | y.keys():
                walk(x.get(key), y.get(key), f"{where}.{key}" if where else key)
        elif x != y:
            out.append(f"{where}: {x} -> {y}")

    walk(a, b, prefix)
    return ", ".join(sorted(out)) or "none"


def _key_mismatch(expected: dict, got: dict) -> tuple[list, list]:
    if not isinstance(got, dict):
        return ["<everything>"], []
    missing = [k for k in expected if k not in got or tuple(got[k].shape) != tuple(expected[k].shape)]
    unexpected = [k for k in got if k not in expected]
    return missing, unexpected


# -- the Python entry point -------------------------------------------------------------------------
def train(config: TrainConfig | None = None, *, out: str | os.PathLike, a=None, b=None,
          identities: dict[str, list] | None = None, steps: int | None = None, minutes: float | None = None,
          held_out: float | None = None, device: str = "auto", progress: bool = True) -> TrainResult:
    """Train (or resume) the run folder ``out`` on ``a`` and ``b`` (or ``identities={name: [inputs]}``).

    Inputs are paths (videos, images, folders of faces) or ``Source(path, start, stop)`` for a frame
    range. ``held_out`` overrides ``config.data.held_out``. A run folder with a checkpoint resumes;
    inputs may then be left out (those in its data.json are used).
    """
    run = Path(out)
    if identities is None and (a is not None or b is not None):
        identities = {"a": list(a or []), "b": list(b or [])}
    if config is None:
        if (run / CHECKPOINT).exists():
            config = load_run_config(run)
        else:
            names = tuple(identities) if identities else ModelConfig().identities
            config = TrainConfig(model=dataclasses.replace(ModelConfig(), identities=names))
    if held_out is not None and held_out != config.data.held_out:
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, held_out=held_out))
    trainer = Trainer(config, run, device=device, progress=progress).setup(identities)
    try:
        return trainer.fit(steps=steps, minutes=minutes)
    finally:
        trainer.close()


def held_out_ranges(run: str | os.PathLike) -> dict[str, list[dict]]:
    """Per identity, each input's held-out frames: ``[{"path", "start", "stop"}]`` (from the run's data.json)."""
    data = json.loads((Path(run) / "data.json").read_text())
    return {name: [{"path": r["path"], "start": r["held_out"][0], "stop": r["held_out"][1]} for r in ident["inputs"]]
            for name, ident in data.items()}


# -- helpers --------------------------------------------------------------------------------------
def _to_tensor(images: np.ndarray, device: str) -> torch.Tensor:
    """``uint8 (N,S,S,3) RGB`` -> ``float (N,3,S,S)`` in [0,1] on ``device`` (channels_last on CUDA)."""
    x = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if device.startswith("cuda") else x.contiguous()


def _spread(idx: np.ndarray, n: int) -> np.ndarray:
    if len(idx) <= n:
        return idx
    return idx[np.linspace(0, len(idx) - 1, n).round().astype(int)]


def _describe(m: ModelConfig) -> str:
    return f"{m.size}px width {m.width} latent {m.latent}, identities {'/'.join(m.identities)}"


def _recorded_sources(run: Path, order: tuple[str, ...]) -> dict[str, list[Source]] | None:
    """The inputs a run was trained on (data.json), in the model's identity order."""
    path = run / "data.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return {name: [Source(**s) for s in data[name]["sources"]] for name in order if name in data}


def _fingerprint(data: dict) -> dict:
    keys = ("sha256", "range", "train", "held_out", "faces_train", "faces_held_out", "files")
    return {name: [{k: r.get(k) for k in keys} for r in ident["inputs"]] for name, ident in data.items()}


def _log_fields(identities: tuple[str, ...]) -> list[str]:
    per = [f"loss_{n}" for n in identities]
    val = [f"val_{kind}_{n}" for n in identities for kind in ("loss", "l1")]
    return ["step", "seconds", "faces_per_s", "loss", *per, *val]


def _append_log(path: Path, row: dict, identities: tuple[str, ...]) -> None:
    """Append one row to log.csv in one write (the header first in a new file)."""
    fields = _log_fields(identities)
    line, header = io.StringIO(), io.StringIO()
    csv.DictWriter(line, fieldnames=fields, lineterminator="\n").writerow(row)
    csv.writer(header, lineterminator="\n").writerow(fields)
    append_line(path, line.getvalue(), header=header.getvalue())


def _read_log(path: Path) -> tuple[list[str], list[dict], bool]:
    """log.csv's header, its complete rows, and whether anything was dropped (a torn last line, a foreign row).

    A missing or empty log is ``([], [], False)``.
    """
    if not path.exists():
        return [], [], False
    lines = complete_lines(path)
    torn = path.stat().st_size > sum(len(line.encode()) + 1 for line in lines)
    if not lines:
        return [], [], torn
    reader = csv.DictReader(lines)
    fields = list(reader.fieldnames or [])
    rows = [r for r in reader if None not in r and None not in r.values() and r.get("step", "").isdigit()]
    return fields, rows, torn or len(rows) != len(lines) - 1


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows written after the checkpoint a resume starts from (``step`` 0: all), and a torn last line."""
    fields, rows, dropped = _read_log(path)
    keep = [r for r in rows if int(r["step"]) <= step]
    if dropped or len(keep) != len(rows):
        text = io.StringIO()
        if fields and keep:
            writer = csv.DictWriter(text, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows(keep)
        write_text(path, text.getvalue())


def _last_loss(path: Path) -> float | None:
    losses = [r["loss"] for r in _read_log(path)[1] if r.get("loss")]
    return float(losses[-1]) if losses else None


@contextlib.contextmanager
def _graceful_stop(trainer: Trainer):
    """SIGINT/SIGTERM ask the loop to stop after the current step (it then saves); a second SIGINT aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if trainer._stop_requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        trainer._stop_requested = True
        log.warning("stopping after this step (signal %d); the checkpoint will be saved", signum)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)
