"""Swapping a face into a real video: the fake, its masks and its manifest, whatever method made the face.

``convert_with(method, video, ...)`` is the one loop every swap method (``methods.py``) goes
through: extract the driving segment's faces, let the method render each frame with a face,
write the video, the masks and the manifest. Frames without a face pass through unchanged. The
output has the input segment's fps, size and frame count.

This file also holds the steps the methods share (``colour_match``, ``face_alpha``,
``composite``) and the autoencoder method, ``Swapper`` ("autoencoder"; ``convert(run, video,
to=...)``): per frame with a face, the aligned crop (the face pipeline's affine) goes through the
shared encoder and the chosen identity's decoder; the new face is colour-matched to the driving
face (Reinhard mean/std in LAB, or histogram matching; the statistics from the inner face only,
``inner_face``), cut by a mask (the convex hull of the 68
landmarks, feathered, optionally eroded), pasted back through the inverse affine and blended
(alpha, or Poisson with ``cv2.seamlessClone``). ``graphics.py`` is the other method.

Beside ``<name>.mp4`` go ``<name>.masks.npz`` (key ``masks``: ``uint8 (T,H,W)`` 0/255, where the
swapped face covers the frame: blend weight >= 0.5) and ``<name>.json``, the manifest
(``provenance.py``). H.264 output also carries a "synthetic" tag in the container metadata.
"""

from __future__ import annotations

import logging
import os
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

import cv2
import numpy as np
import torch

from fakebench import mark
from fakebench.config import from_dict, to_dict
from fakebench.errors import ConfigError, FakebenchError
from fakebench.faces.align import invert_affine, transform_points
from fakebench.files import content_key, sha256_file
from fakebench.generate import provenance
from fakebench.generate.methods import METHODS, SwapMethod
from fakebench.generate.train import CHECKPOINT, TrainConfig, load_checkpoint

log = logging.getLogger("fakebench.generate")


@dataclass(frozen=True)
class ConvertSettings:
    """How a swapped face is put into the frame (all recorded in the manifest)."""

    blend: Literal["alpha", "seamless"] = "alpha"
    colour: Literal["reinhard", "hist", "none"] = "reinhard"
    # The landmark hull shrinks by this fraction of the face size (sqrt of hull area). 0: the whole hull is replaced.
    # Measured on two 5-min CPU runs: at 0.05 the driving person's brows and outline stay and dlib put only 0.00-0.31
    # of B->A frames nearer A; at 0.02 1.00 and 0.33; at 0 0.96-1.00 (A->B 1.00 each time). 0.02 is the default: at 0
    # the decoder's own border (A's blue screen, B's beige wall, learned round the jaw) shows as a coloured rim.
    mask_erode: float = 0.02
    mask_blur: float = 0.1  # feather width as a fraction of the face size (Gaussian kernel side)
    codec: Literal["h264", "mp4v"] = "h264"  # h264 carries the synthetic tag in its metadata; mp4v cannot
    crf: int = 18  # h264 quality (0 lossless .. 51); 18 is visually lossless, detectors see compression separately
    batch: int = 32  # faces per model pass
    detect_every: int = 1  # run MTCNN on every k-th frame, landmarks follow the face in between
    mark: bool = True  # the invisible provenance mark in the swapped pixels (mark.py); False: --no-mark, for studies

    def __post_init__(self):
        if not (0 <= self.mask_erode < 0.5 and 0 <= self.mask_blur < 1):
            raise ConfigError(f"mask_erode must be in [0, 0.5) and mask_blur in [0, 1), got {self.mask_erode}, "
                              f"{self.mask_blur}")
        if not 0 <= self.crf <= 51 or self.batch < 1 or self.detect_every < 1:
            raise ConfigError(f"crf must be in 0..51, batch and detect_every >= 1, got {self.crf}, {self.batch}, "
                              f"{self.detect_every}")


# -- the per-face steps ------------------------------------------------------------------------------
def colour_match(face: np.ndarray, reference: np.ndarray, region: np.ndarray, mode: str) -> np.ndarray:
    """Match ``face``'s colours to ``reference`` inside ``region`` (``bool (S,S)``); ``uint8 (S,S,3) RGB`` in/out.

    ``reinhard``: per LAB channel, shift and scale so mean and std match (Reinhard et al. 2001);
    ``hist``: per RGB channel, map the cumulative histogram onto the reference's; ``none``.
    """
    if mode == "none" or region.sum() < 16:
        return face
    if mode == "reinhard":
        src = cv2.cvtColor(face.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        ref = cv2.cvtColor(reference.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
        s_mu, s_sd = src[region].mean(0), src[region].std(0) + 1e-6
        r_mu, r_sd = ref[region].mean(0), ref[region].std(0)
        out = cv2.cvtColor((src - s_mu) / s_sd * r_sd + r_mu, cv2.COLOR_LAB2RGB)
        return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    if mode == "hist":
        out = np.empty_like(face)
        for c in range(3):
            s_cdf = np.cumsum(np.bincount(face[..., c][region], minlength=256)).astype(np.float64)
            r_cdf = np.cumsum(np.bincount(reference[..., c][region], minlength=256)).astype(np.float64)
            lut = np.searchsorted(r_cdf / r_cdf[-1], s_cdf / s_cdf[-1]).clip(0, 255).astype(np.uint8)
            out[..., c] = lut[face[..., c]]
        return out
    raise ConfigError(f"unknown colour mode {mode!r}: expected reinhard, hist or none")


INNER = 0.08  # the colour statistics leave out this fraction of the face size inside the landmark hull


def inner_face(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``bool (h,w)``: the landmark hull shrunk by ``INNER`` x face size, where colours are compared.

    The hull's edge runs along the face's outline, so its last pixels are often background: on A's
    blue screen they doubled the blue-yellow spread of A's "face" and Reinhard matching then
    turned B's eyes blue.
    """
    hull = cv2.convexHull(np.round(landmarks).astype(np.int32))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    r = int(round(INNER * np.sqrt(max(cv2.contourArea(hull), 1.0))))
    return cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))) > 0


def face_alpha(landmarks: np.ndarray, shape: tuple[int, int], erode: float, blur: float) -> tuple[np.ndarray, tuple]:
    """The blend weight of a face in frame pixels, cut to its region: ``(float32 (h,w) in [0,1], (x0, y0))``.

    The convex hull of the 68 landmarks, eroded by ``erode`` x face size, then Gaussian-feathered
    over ``blur`` x face size (face size = sqrt of the hull's area).
    """
    hull = cv2.convexHull(np.round(landmarks).astype(np.int32))
    face = float(np.sqrt(max(cv2.contourArea(hull), 1.0)))
    r_erode = int(round(erode * face))
    k_blur = int(round(blur * face)) | 1
    pad = r_erode + k_blur + 2
    x, y, w, h = cv2.boundingRect(hull)
    x0, y0 = max(x - pad, 0), max(y - pad, 0)
    x1, y1 = min(x + w + pad, shape[1]), min(y + h + pad, shape[0])
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), np.float32), (0, 0)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, hull - np.array([x0, y0], np.int32), 255)
    if r_erode > 0:
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r_erode + 1, 2 * r_erode + 1)))
    alpha = mask.astype(np.float32) / 255.0
    if k_blur >= 3:
        alpha = cv2.GaussianBlur(alpha, (k_blur, k_blur), 0)
    return alpha, (x0, y0)


def composite(frame: np.ndarray, face: np.ndarray, affine: np.ndarray, landmarks: np.ndarray,
              settings: ConvertSettings) -> tuple[np.ndarray, np.ndarray]:
    """Paste ``face`` (``uint8 (S,S,3)``, or any ``(h,w,3)``: the crop ``affine`` maps the frame to) into ``frame``.

    Returns the new frame and its ``uint8 (H,W)`` 0/255 mask (where the face's weight is >= 0.5).
    """
    h, w = frame.shape[:2]
    out = frame.copy()
    mask = np.zeros((h, w), np.uint8)
    alpha, (x0, y0) = face_alpha(landmarks, (h, w), settings.mask_erode, settings.mask_blur)
    if alpha.size == 0:
        return out, mask
    rh, rw = alpha.shape
    inv = invert_affine(affine)
    inv[:, 2] -= (x0, y0)
    warped = cv2.warpAffine(face, inv, (rw, rh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones(face.shape[:2], np.float32), inv, (rw, rh), flags=cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    alpha = alpha * cv2.erode(inside, np.ones((3, 3), np.uint8))  # never past the crop's edge
    binary = alpha >= 0.5
    if not binary.any():
        return out, mask
    mask[y0:y0 + rh, x0:x0 + rw][binary] = 255
    if settings.blend == "seamless":
        src = out.copy()
        src[y0:y0 + rh, x0:x0 + rw] = warped
        bx, by, bw, bh = cv2.boundingRect(mask)
        # seamlessClone centres the mask's bounding box on the point: give it the box's own centre. It also
        # writes into the mask it is given (OpenCV 4.x), so it gets a copy.
        return cv2.seamlessClone(src, out, mask.copy(), (bx + bw // 2, by + bh // 2), cv2.NORMAL_CLONE), mask
    region = out[y0:y0 + rh, x0:x0 + rw].astype(np.float32)
    a = alpha[:, :, None]
    out[y0:y0 + rh, x0:x0 + rw] = np.clip(region * (1 - a) + warped.astype(np.float32) * a + 0.5, 0, 255).astype(np.uint8)
    return out, mask


@METHODS.register("autoencoder")
class Swapper:
    """A trained model and the settings that put its faces into frames, for one target identity.

    The "autoencoder" swap method (``methods.SwapMethod``): ``begin`` runs the model over the
    segment's faces in batches, ``render`` pastes one of them back.
    """

    name: ClassVar[str] = "autoencoder"
    default_settings: ClassVar[ConvertSettings] = ConvertSettings()

    def __init__(self, run: str | os.PathLike, to: str, *, checkpoint: str | os.PathLike | None = None,
                 settings: ConvertSettings | None = None, device: str = "auto"):
        from fakebench.generate.model import SwapModel
        from fakebench.runtime import resolve_device

        self.run = Path(run)
        self.checkpoint = Path(checkpoint) if checkpoint is not None else self.run / CHECKPOINT
        if not self.run.is_dir() and checkpoint is None:
            raise FakebenchError(f"{self.run}: no such run folder; train one with `fakebench generate train --out "
                                 f"{self.run}`")
        self.settings = settings or self.default_settings
        self.device = resolve_device(device)
        ckpt = load_checkpoint(self.checkpoint)
        self.config: TrainConfig = ckpt["train_config"]
        self.step = int(ckpt["step"])
        names = self.config.model.identities
        if to not in names:
            import difflib

            close = [n for n in names if n.lower() == to.lower()] or difflib.get_close_matches(to, names, n=1)
            raise ConfigError(f"--to {to!r}: this run has no such identity{f' (did you mean {close[0]!r}?)' if close else ''}; "
                              f"its identities are {', '.join(names)}")
        self.to = to
        self.model = SwapModel(self.config.model)
        self.model.load_state_dict(ckpt["state_dict"])
        self.model.to(self.device).eval()
        self.size = self.config.model.size
        self._overlap = 0  # frames of the current segment the run trained on

    @torch.no_grad()
    def swap_crops(self, crops: np.ndarray) -> np.ndarray:
        """``uint8 (N,S,S,3) RGB`` aligned faces -> the same faces drawn as ``to``, ``uint8 (N,S,S,3)``."""
        out = []
        for i in range(0, len(crops), self.settings.batch):
            x = torch.from_numpy(crops[i:i + self.settings.batch]).to(self.device).permute(0, 3, 1, 2).float() / 255
            autocast = torch.autocast("cuda", dtype=torch.bfloat16) if self.device.startswith("cuda") else nullcontext()
            with autocast:
                y = self.model(x, self.to)
            out.append((y.float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8))
        return np.concatenate(out) if out else np.zeros((0, self.size, self.size, 3), np.uint8)

    def extractor(self):
        """The face pipeline at this model's crop (twice the model size, the run's margin)."""
        from fakebench.faces import FaceExtractor

        extra = {"detect_every": self.settings.detect_every} if self.settings.detect_every > 1 else {}
        return FaceExtractor(size=2 * self.size, margin=self.config.data.margin, device=str(self.device), **extra)

    def prepare(self, crops_2x: np.ndarray, affines_2x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crops and affines at twice the model size -> model size (area halving; affine scaled to match)."""
        small = np.stack([cv2.resize(c, (self.size, self.size), interpolation=cv2.INTER_AREA) for c in crops_2x]) \
            if len(crops_2x) else np.zeros((0, self.size, self.size, 3), np.uint8)
        affines = affines_2x.astype(np.float32) * 0.5
        affines[:, :, 2] -= 0.25  # pixel i of the half-size crop covers pixels 2i and 2i+1
        return small, affines

    def swap_frame(self, frame: np.ndarray, face: np.ndarray, crop: np.ndarray, affine: np.ndarray,
                   landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Colour-match ``face`` (model output) to the driving ``crop``, then paste it into ``frame``."""
        region = inner_face(transform_points(landmarks, affine), (self.size, self.size))
        face = colour_match(face, crop, region, self.settings.colour)
        return composite(frame, face, affine, landmarks, self.settings)

    # -- the swap method (methods.SwapMethod) ------------------------------------------------------------
    @property
    def source(self) -> str:
        return self.to

    def target(self, video_sha: str, start: int, stop: int, driving: str | None) -> str:
        """The run's identity when the video is one of its inputs (else ``driving``, else "unknown")."""
        target, self._overlap = provenance.driving_identity(self.run, video_sha, start, stop, driving)
        return target

    def begin(self, track, *, progress: bool = False) -> None:
        self._crops, self._affines = self.prepare(track.crops, track.affines)
        self._faces = np.zeros_like(self._crops)
        self._faces[track.has_face] = self.swap_crops(self._crops[track.has_face])
        self._landmarks = track.landmarks

    def render(self, i: int, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.swap_frame(frame, self._faces[i], self._crops[i], self._affines[i], self._landmarks[i])

    def describe(self) -> dict:
        return {"run": str(self.run.resolve()),
                "checkpoint": {"step": self.step, "sha256": sha256_file(self.checkpoint)},
                "settings": {"size": self.size, **to_dict(self.settings), "margin": self.config.data.margin,
                             "model_width": self.config.model.width, "model_latent": self.config.model.latent,
                             "trained_frames_in_segment": self._overlap}}


def convert(run: str | os.PathLike, video: str | os.PathLike, *, to: str, out: str | os.PathLike, start: int = 0,
            stop: int | None = None, settings: ConvertSettings | None = None, checkpoint: str | os.PathLike | None = None,
            driving: str | None = None, device: str = "auto", progress: bool = True) -> dict:
    """Swap identity ``to`` into frames ``[start, stop)`` of ``video``; write ``out`` (.mp4), its masks and manifest.

    ``driving``: who is in the video (the manifest's ``target``); found from the run's data.json when
    the video is one of its inputs, else this name, else ``"unknown"``. Returns the manifest.
    """
    out = check_out(out)
    swapper = Swapper(run, to, checkpoint=checkpoint, settings=settings, device=device)
    return convert_with(swapper, video, out=out, start=start, stop=stop, driving=driving, progress=progress)


def convert_with(method: SwapMethod, video: str | os.PathLike, *, out: str | os.PathLike, start: int = 0,
                 stop: int | None = None, driving: str | None = None, progress: bool = True) -> dict:
    """Make the fake of frames ``[start, stop)`` of ``video`` with ``method``: ``out`` (.mp4), its masks, its manifest.

    ``driving``: who is in the video, for the manifest (the method may know better, see its
    ``target``). Returns the manifest.
    """
    from tqdm import tqdm

    from fakebench.media import VideoWriter, iter_frames, probe_video

    out = check_out(out)
    settings = method.settings
    info = probe_video(video)
    stop = info.n_frames if stop is None else min(stop, info.n_frames)
    if not 0 <= start < stop:
        raise ConfigError(f"{video}: frame range [{start}, {stop}) is empty or outside its {info.n_frames} frames")
    video_sha = content_key(video)  # sha256, memoised by size and mtime
    target = method.target(video_sha, start, stop, driving)
    if target == method.source:
        log.warning("the video shows %r and the face pasted in is %r: this re-renders the same person (a "
                    "reconstruction, not a swap)", target, method.source)

    track = method.extractor().extract(video, start=start, stop=stop, progress=progress)
    n = len(track)
    has = track.has_face
    if not has.any():
        log.warning("%s: no face in any of the %d frames [%d, %d); the output is the input unchanged (0 swapped)",
                    video, n, start, stop)
    method.begin(track, progress=progress)
    made_by = method.describe()
    payload = mark.payload_for(made_by, start) if settings.mark else None

    paths = provenance.output_paths(out)
    metadata = {"comment": f"synthetic: face swap made by fakebench {provenance.fakebench_version()}; "
                           f"see {paths['manifest'].name}", "description": "synthetic (deepfake)"}
    swapped = 0
    with VideoWriter(out, info.fps, codec=settings.codec, crf=settings.crf,
                     metadata=metadata if settings.codec == "h264" else None) as writer, \
            provenance.MaskWriter(paths["masks"], (n, info.height, info.width)) as masks:
        frames = iter_frames(video, track.frames)
        for i, (index, frame) in enumerate(tqdm(frames, total=n, desc="convert", unit="frame", disable=not progress,
                                                 leave=False)):
            if index != track.frames[i]:
                raise FakebenchError(f"{video}: frame {index} decoded where the face track has {track.frames[i]}; "
                                     "the file changed while converting, run again")
            mask = None
            if has[i]:
                frame, mask = method.render(i, frame)
                swapped += int(mask.any())
            if payload is not None and mask is not None:
                frame = mark.embed(frame, mask, payload, mark.anchor(track.affines[i], track.size))
            writer.write(frame)
            masks.write(mask)
    if payload is not None:
        made_by["settings"]["mark"] = mark.manifest_entry(payload)  # --no-mark leaves settings.mark false
    manifest = provenance.build_manifest(
        out=out, video=Path(video), video_sha=video_sha, start=start, stop=start + n, target=target,
        source=method.source, method=method.name, made_by=made_by, frames=n, frames_swapped=swapped,
        fps=info.fps, width=info.width, height=info.height)
    provenance.write_manifest(paths["manifest"], manifest)
    log.info("%s: %d of %d frames swapped to %r (%s)", out, swapped, n, method.source, method.name)
    return manifest


def check_out(out: str | os.PathLike) -> Path:
    """``out`` as a Path, refused unless it names a .mp4 file."""
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise ConfigError(f"--out {out}: expected a .mp4 file name (the masks and manifest go beside it)")
    return out


def settings_from(values: dict) -> ConvertSettings:
    return from_dict(ConvertSettings, values, where="convert settings")
