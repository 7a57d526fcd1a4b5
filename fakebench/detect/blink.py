"""Eye-blink-rate heuristic: early deepfakes blink too little (In Ictu Oculi, Li, Chang & Lyu 2018).

People blink every 2-10 s at rest or in conversation, each blink lasting 0.1-0.4 s. The detector
measures the eye aspect ratio (EAR, Soukupova & Cech 2016) on EVERY frame from dlib's 68 landmarks,
finds blinks as short dips that close and reopen, and turns the blink count over the time the face
was visible into a probability of fake.

Finding blinks (``find_blinks``):
1. EAR per frame, mean of both eyes; a running median over ~0.1 s (3 frames at 24-30 fps, none below
   15 fps, where it would erase a blink) removes single-frame landmark jitter.
2. Openness = EAR / the local open-eye level (the ``open_quantile`` of EAR in a ``baseline_s``
   window around the frame). The baseline adapts to the person, the landmark source and slow
   changes (a smile narrows the eyes for seconds, looking down lowers the lids).
3. A blink is a dip of openness that falls by at least ``min_depth`` below BOTH of its shoulders
   within ``shoulder_s`` on each side: the eye closes AND reopens quickly. Narrowing in a smile or
   looking down for seconds has no shoulder on one side within that window, so it is not a blink
   however low the EAR goes. The dip's width at half depth must lie in [``min_duration_s``,
   ``max_duration_s``]. Dips touching a stretch without a face are dropped (cannot tell).

Scoring (``blink_probability``): the blink count ``k`` in ``T`` minutes of visible face is
Poisson with a per-person rate, and the rate is Gamma-distributed across people, so ``k`` is
negative binomial. Real people: mean 17 blinks/min, sd 9 (spontaneous blinking at rest and in
conversation, Bentivoglio et al. 1997). Fakes: mean 3/min, sd 3 (In Ictu Oculi's premise). With
equal priors, P(fake | k, T) = NB_fake(k) / (NB_fake(k) + NB_real(k)). Short clips carry little
evidence and stay near 0.5 by construction; below ``min_seconds`` of visible face (or below
``min_fps``, where a blink spans under one frame) the score is exactly 0.5 and the evidence says
why. The interval regularity (coefficient of variation of inter-blink intervals) is reported as
evidence, not scored: there is no calibration data for it here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.ndimage import median_filter
from scipy.signal import find_peaks
from scipy.special import gammaln

from fakebench.detect.base import DETECTORS, Detector, FaceRequest, VideoScore, check_track
from fakebench.errors import FakebenchError
from fakebench.faces.track import FaceTrack

log = logging.getLogger(__name__)

RIGHT_EYE = slice(36, 42)  # the subject's right eye, image left
LEFT_EYE = slice(42, 48)


@dataclass(frozen=True)
class BlinkConfig:
    baseline_s: float = 2.0  # window of the local open-eye level; longer than a blink, shorter than a look-down
    open_quantile: float = 0.8  # open-eye level = this quantile of EAR in the window (blinks fill < 20 % of it)
    min_depth: float = 0.25  # a blink closes the eye by >= 25 % of its open EAR below both shoulders
    shoulder_s: float = 0.4  # the eye must reopen within this time after the deepest point (and close before)
    min_duration_s: float = 0.03  # width at half depth: at 24 fps one frame is 0.042 s
    max_duration_s: float = 0.5
    min_gap_s: float = 0.15  # two dips closer than this are one blink
    smooth_s: float = 0.1  # running median over this long, odd frame count; < 2 frames = none
    min_seconds: float = 10.0  # less visible face than this: too short to judge, score 0.5
    min_fps: float = 10.0  # below this a 0.1 s blink falls between frames
    real_rate: float = 17.0  # blinks per minute, mean and sd across real people
    real_sd: float = 9.0
    fake_rate: float = 3.0  # blinks per minute, mean and sd across fakes
    fake_sd: float = 3.0


def eye_aspect_ratio(landmarks: np.ndarray) -> np.ndarray:
    """``float64 (N,)`` EAR, mean of both eyes, from ``(N,68,2)`` landmarks (NaN in, NaN out).

    Per eye with points p1..p6 (corner, two upper lid, corner, two lower lid):
    (|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|); about 0.3 open, under 0.15 closed.
    """
    landmarks = np.asarray(landmarks, np.float64)
    if landmarks.ndim != 3 or landmarks.shape[1:] != (68, 2):
        raise FakebenchError(f"expected (N,68,2) dlib landmarks, got {landmarks.shape}")

    def one(eye: np.ndarray) -> np.ndarray:
        vertical = np.linalg.norm(eye[:, 1] - eye[:, 5], axis=-1) + np.linalg.norm(eye[:, 2] - eye[:, 4], axis=-1)
        width = np.linalg.norm(eye[:, 0] - eye[:, 3], axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return vertical / (2 * width)

    return (one(landmarks[:, RIGHT_EYE]) + one(landmarks[:, LEFT_EYE])) / 2


@dataclass(frozen=True)
class Blinks:
    """Blinks found in one EAR trace; frame positions index the trace (0..N-1)."""

    peaks: np.ndarray  # int (K,) deepest frame of each blink
    starts: np.ndarray  # float (K,) half-depth crossings, fractional frames
    stops: np.ndarray
    depths: np.ndarray  # openness lost, fraction of the open level
    ear: np.ndarray  # (N,) smoothed EAR, NaN without a face
    openness: np.ndarray  # (N,) EAR / local open level
    open_level: np.ndarray  # (N,) the local open-eye EAR


def smoothing_frames(fps: float, config: BlinkConfig = BlinkConfig()) -> int:
    """Odd length of the EAR running median: ~``smooth_s`` of video, 1 (none) when that is under 2 frames."""
    frames = int(round(config.smooth_s * fps))
    return 1 if frames < 2 else frames | 1


def find_blinks(ear: np.ndarray, fps: float, config: BlinkConfig = BlinkConfig()) -> Blinks:
    """Blink events in an EAR trace sampled at every frame (NaN = no face)."""
    ear = np.asarray(ear, np.float64)
    visible = np.isfinite(ear)
    filled = np.where(visible, ear, np.nanmedian(ear) if visible.any() else 0.3)
    smooth = np.where(visible, median_filter(filled, size=smoothing_frames(fps, config), mode="nearest"), np.nan)
    window = max(3, int(round(config.baseline_s * fps)) | 1)
    open_level = _rolling_quantile(smooth, window, config.open_quantile)
    with np.errstate(invalid="ignore", divide="ignore"):
        openness = smooth / open_level
    empty = np.zeros(0)
    if visible.sum() < 3:
        return Blinks(empty.astype(int), empty, empty, empty, smooth, openness, open_level)

    # Missing frames sit at full openness for the peak search, and dips next to them are dropped below.
    signal = -np.where(visible, openness, 1.0)
    shoulder = max(2, int(round(config.shoulder_s * fps)))
    peaks, props = find_peaks(signal, prominence=config.min_depth, wlen=2 * shoulder + 1, rel_height=0.5,
                              width=(max(config.min_duration_s * fps, 0.0), config.max_duration_s * fps),
                              distance=max(1, int(round(config.min_gap_s * fps))))
    keep = np.array([visible[max(0, p - shoulder):p + shoulder + 1].all() for p in peaks], bool)
    return Blinks(peaks[keep], props["left_ips"][keep], props["right_ips"][keep], props["prominences"][keep],
                  smooth, openness, open_level)


def _rolling_quantile(values: np.ndarray, window: int, q: float) -> np.ndarray:
    """Centred rolling quantile that ignores NaN (windows of only NaN give NaN)."""
    half = window // 2
    padded = np.pad(values, half, mode="constant", constant_values=np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    out = np.full(len(values), np.nan)
    has = np.isfinite(windows).any(axis=1)
    if has.any():
        out[has] = np.nanquantile(windows[has], q, axis=1)
    return out


def blink_probability(blinks: int, minutes: float, config: BlinkConfig = BlinkConfig()) -> float:
    """P(fake | ``blinks`` seen in ``minutes`` of visible face), equal priors; see the module docstring."""
    def log_nb(mean: float, sd: float) -> float:
        shape = (mean / sd) ** 2  # Gamma over per-minute rates, shape/rate from mean and sd
        rate = shape / mean
        return (gammaln(blinks + shape) - gammaln(shape) - gammaln(blinks + 1)
                + shape * np.log(rate / (rate + minutes)) + blinks * np.log(minutes / (rate + minutes)))

    fake, real = log_nb(config.fake_rate, config.fake_sd), log_nb(config.real_rate, config.real_sd)
    return float(1.0 / (1.0 + np.exp(real - fake)))


@DETECTORS.register("blink")
class BlinkDetector(Detector):
    """Probability of fake from the blink rate of the tracked face (needs every frame of a video)."""

    name = "blink"
    frame_level = False
    needs_video = True
    config_class = BlinkConfig
    # Every frame, MTCNN on every 4th and landmarks in between: 105 vs 50 frames/s on sample A with
    # the same blinks found (BENCHMARKS.md). Small crops: the detector reads landmarks only.
    request = FaceRequest(size=64, count=None, every=1, landmarks=True, detect_every=4)

    def score_frames(self, faces: FaceTrack | np.ndarray) -> np.ndarray:
        raise FakebenchError("the blink detector judges whole clips, not single frames: use score_video(track) "
                             "(`fakebench detect score` does)")

    def blinks(self, track: FaceTrack) -> Blinks:
        """The blink events of a densely sampled track (its sampled positions, not frame numbers)."""
        check_track(track)
        if np.isnan(track.landmarks[track.has_face]).any():
            raise FakebenchError("the blink detector needs dlib's 68 landmarks; the track was extracted without them "
                                 "(drop --no-landmarks / use landmarks=True)")
        steps = np.diff(track.frames)
        if len(steps) and np.median(steps) > 1:
            raise FakebenchError(f"the blink detector needs every frame (blinks last 2-10 frames), got a track sampled "
                                 f"every {int(np.median(steps))} frames: extract with every=1")
        ear = np.where(track.has_face, eye_aspect_ratio(track.landmarks), np.nan)
        return find_blinks(ear, track.fps, self.config)

    def explain(self, track: FaceTrack) -> VideoScore:
        check_track(track)
        cfg = self.config
        if track.fps <= 0:
            raise FakebenchError(f"{track.source}: the blink detector needs a video (blink rate is per minute), "
                                 "got a still image")
        seen_s = float(track.has_face.sum()) / track.fps
        evidence: dict = {"fps": round(track.fps, 3), "frames": len(track), "seconds_with_face": round(seen_s, 2),
                          "min_seconds": cfg.min_seconds, "flags": []}
        if track.fps < cfg.min_fps:
            evidence["flags"].append(f"fps {track.fps:.1f} < {cfg.min_fps:g}: blinks fall between frames")
            return VideoScore(0.5, int(track.has_face.sum()), evidence)
        blinks = self.blinks(track)
        count = len(blinks.peaks)
        durations = (blinks.stops - blinks.starts) / track.fps
        peak_s = blinks.peaks / track.fps
        intervals = np.diff(peak_s)
        evidence.update({
            "blinks": count,
            "blinks_per_min": round(count / seen_s * 60, 2) if seen_s > 0 else None,
            "mean_blink_s": round(float(durations.mean()), 3) if count else None,
            "blink_frames": track.frames[blinks.peaks].tolist(),
            "blink_durations_s": np.round(durations, 3).tolist(),
            "intervals_s": np.round(intervals, 2).tolist(),
            "interval_cv": round(float(intervals.std() / intervals.mean()), 3) if len(intervals) > 1 else None,
            "ear_baseline": round(float(np.nanmedian(blinks.open_level)), 4) if np.isfinite(blinks.open_level).any()
            else None,
        })
        lost = 1 - track.has_face.mean()
        if lost > 0.2:
            evidence["flags"].append(f"face lost in {lost:.0%} of frames; rate over the {seen_s:.1f} s with a face")
        if seen_s < cfg.min_seconds:
            evidence["flags"].append(f"too short to judge: {seen_s:.1f} s of face, need {cfg.min_seconds:g} s")
            return VideoScore(0.5, int(track.has_face.sum()), evidence)
        return VideoScore(blink_probability(count, seen_s / 60, cfg), int(track.has_face.sum()), evidence)

    def plot(self, track: FaceTrack, out: str | os.PathLike) -> Path:
        """The EAR trace with the open-eye level and the blinks marked, plus P(fake) against the rate."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        result = self.explain(track)
        blinks = self.blinks(track)
        t = track.frames / track.fps
        fig, (ax, ax2) = plt.subplots(1, 2, figsize=(14, 3.2), gridspec_kw={"width_ratios": [4, 1]})
        ax.plot(t, blinks.ear, lw=0.8, color="tab:blue", label="EAR (running median)")
        ax.plot(t, blinks.open_level, lw=0.8, color="tab:gray", ls="--", label="open-eye level")
        ax.plot(t, blinks.open_level * (1 - self.config.min_depth), lw=0.6, color="tab:gray", ls=":",
                label=f"{1 - self.config.min_depth:.0%} of open")
        for start, stop in zip(blinks.starts, blinks.stops):
            ax.axvspan(start / track.fps + t[0], stop / track.fps + t[0], color="tab:red", alpha=0.3, lw=0)
        ax.plot(t[blinks.peaks], blinks.ear[blinks.peaks], "v", color="tab:red", ms=4, label="blink")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("eye aspect ratio")
        ev = result.evidence
        ax.set_title(f"{Path(track.source).name}: {ev.get('blinks', 0)} blinks in {ev['seconds_with_face']} s "
                     f"({ev.get('blinks_per_min')}/min), P(fake) = {result.score:.2f}", fontsize=10)
        ax.legend(fontsize=7, loc="lower left", ncol=4)
        minutes = max(ev["seconds_with_face"] / 60, 1e-6)
        rates = np.linspace(0, 40, 161)
        ax2.plot(rates, [blink_probability(int(round(r * minutes)), minutes, self.config) for r in rates], lw=1)
        if ev.get("blinks_per_min") is not None:
            ax2.plot([ev["blinks_per_min"]], [result.score], "o", color="tab:red")
        ax2.set_xlabel("blinks / min")
        ax2.set_ylabel("P(fake)")
        ax2.set_title(f"for {ev['seconds_with_face']:.0f} s of face", fontsize=9)
        ax2.set_ylim(-0.02, 1.02)
        fig.tight_layout()
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, dpi=100)
        plt.close(fig)
        return out
