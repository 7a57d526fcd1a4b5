"""The contract every detector meets, runnable against any of them (``fakebench detect check NAME``).

The checks run on synthetic face tracks (``detect.synthetic``: random crops, a landmarked face
that blinks five times in 30 s), so no media is needed:

- ``builds``: ``create`` makes it (from ``weights`` when given);
- ``probability``: the video score is a float in [0, 1]; frame scores (frame-level detectors) are too;
- ``deterministic``: two detectors made with the same seed (or weights) give the same score;
- ``batch_equals_loop``: frame-level detectors score a batch as they score its frames one by one;
  clip-level ones refuse single frames with a message that says they judge whole clips;
- ``one_frame``: a one-frame track gets a probability (a clip-level judge says 0.5, too short);
- ``bad_inputs_refused``: CHW float arrays, a path string and a frame without the batch axis are
  refused with a ``FakebenchError`` by ``score_video`` and ``score_frames``;
- ``save_load``: what ``save`` writes loads through ``create(name, weights=...)`` with the same scores;
- ``foreign_file_refused``: a file of garbage is refused with a message saying what was expected.

``small=True`` makes detectors whose config has an ``input_size`` work at 64 px (fast on a CPU;
the interface is the same).
"""

from __future__ import annotations

import os
import tempfile
import traceback
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from fakebench.errors import FakebenchError

BLINK_TIMES = (2.0, 6.5, 11.0, 17.0, 24.0)


@dataclass(frozen=True)
class CheckResult:
    check: str
    ok: bool
    detail: str


def clip(frame_level: bool, n: int | None = None, fps: float = 25.0, seed: int = 0):
    """30 s for clip-level detectors (the blink detector needs 10 s of face), a few crops for frame-level ones."""
    from fakebench.detect.synthetic import blink_openness, synthetic_track

    n = n or (6 if frame_level else 750)
    return synthetic_track(blink_openness(n, fps, list(BLINK_TIMES)), fps=fps, seed=seed)


class _Subject:
    """Makes fresh instances of the detector under test, the same way every time."""

    def __init__(self, name: str, weights: str | os.PathLike | None, small: bool, device: str, seed: int):
        from fakebench.detect.factory import make_config, resolve

        self.name, self.weights, self.device, self.seed = name, weights, device, seed
        self.entry = resolve(name)
        self.config = None
        config_class = self.entry.cls.config_class
        if small and weights is None and config_class is not None:
            default = make_config(self.entry, {})
            if default is not None and "input_size" in {f.name for f in fields(default)}:
                self.config = replace(default, input_size=64)

    def make(self):
        from fakebench.detect.factory import create

        return create(self.name, weights=self.weights, config=self.config, device=self.device, seed=self.seed)


def _probability(subject: _Subject) -> str:
    from fakebench.detect.score import judge

    detector = subject.make()
    track = clip(detector.frame_level, n=None if not detector.frame_level else 2)
    result = judge(detector, track)
    score = detector.score_video(track)
    assert isinstance(score, float), f"score_video returned {type(score).__name__}, expected float"
    assert np.isfinite(score) and 0.0 <= score <= 1.0, f"video score {score} outside [0, 1]"
    if result.frame_scores is not None:
        finite = result.frame_scores[np.isfinite(result.frame_scores)]
        assert np.all((finite >= 0) & (finite <= 1)), f"frame scores outside [0, 1]: {finite}"
    return f"video score {score:.4f}"


def _deterministic(subject: _Subject) -> str:
    a = subject.make().score_video(clip(subject.entry.cls.frame_level, seed=3))
    b = subject.make().score_video(clip(subject.entry.cls.frame_level, seed=3))
    assert a == b, f"two detectors with seed {subject.seed} gave {a!r} and {b!r}"
    return f"{a:.6f} twice"


def _batch_equals_loop(subject: _Subject) -> str:
    detector = subject.make()
    track = clip(detector.frame_level, n=12)
    if not detector.frame_level:
        try:
            detector.score_frames(track)
        except FakebenchError as err:
            assert "whole clips" in str(err), f"refused single frames without saying it judges whole clips: {err}"
            return "clip-level: single frames refused"
        raise AssertionError("a clip-level detector (frame_level = False) scored single frames")
    batch = np.asarray(detector.score_frames(track.crops), np.float64)
    loop = np.concatenate([np.asarray(detector.score_frames(track.crops[i:i + 1]), np.float64) for i in range(len(track))])
    np.testing.assert_allclose(batch, loop, rtol=1e-5, atol=1e-6, err_msg="batch and one-by-one scores differ")
    assert np.all((batch >= 0) & (batch <= 1)), f"frame scores outside [0, 1]: {batch}"
    return f"max difference {float(np.abs(batch - loop).max()):.2e}"


def _one_frame(subject: _Subject) -> str:
    detector = subject.make()
    result = detector.explain(clip(detector.frame_level, n=1))
    assert 0.0 <= result.score <= 1.0, f"one-frame video score {result.score} outside [0, 1]"
    if not detector.frame_level:  # a clip-level judge cannot say anything from one frame
        assert result.score == 0.5, f"a clip-level detector judged one frame: {result.score}"
        assert any("too short" in f for f in result.evidence.get("flags", [])), "no 'too short' flag on one frame"
    return f"score {result.score:.4f}"


BAD_INPUTS = ((np.zeros((2, 3, 64, 64), np.float32), "expected"), ("clip.mp4", "expected a FaceTrack"),
              (np.zeros((64, 64, 3), np.uint8), "expected"))


def _bad_inputs_refused(subject: _Subject) -> str:
    detector = subject.make()
    for bad, match in BAD_INPUTS:
        what = type(bad).__name__ if isinstance(bad, str) else f"{bad.dtype} {bad.shape}"
        for method in (detector.score_video, detector.score_frames):
            try:
                method(bad)
            except FakebenchError as err:
                if method == detector.score_video:
                    assert match in str(err), f"{method.__name__}({what}) refused without {match!r}: {err}"
                continue
            raise AssertionError(f"{method.__name__}({what}) was accepted; expected a FakebenchError")
    return f"{len(BAD_INPUTS)} bad inputs refused"


def _save_load(subject: _Subject) -> str:
    from fakebench.detect.factory import create

    detector = subject.make()
    with tempfile.TemporaryDirectory(prefix="fakebench-check-") as tmp:
        path = detector.save(Path(tmp) / f"{subject.entry.name}.weights")
        again = create(subject.name, weights=path, device=subject.device)
        track = clip(detector.frame_level)
        a, b = again.score_video(track), detector.score_video(track)
    assert a == b, f"saved then loaded: {a!r}, before: {b!r}"
    return f"same score {a:.6f}"


def _foreign_file_refused(subject: _Subject) -> str:
    from fakebench.detect.factory import create

    name = subject.entry.cls.name or subject.entry.name
    with tempfile.TemporaryDirectory(prefix="fakebench-check-") as tmp:
        broken = Path(tmp) / "broken.weights"
        broken.write_bytes(b"\x00garbage")
        try:
            create(subject.name, weights=broken, device=subject.device)
        except FakebenchError as err:
            assert "expected" in str(err) and name in str(err), f"refused without saying it expected {name}: {err}"
            return str(err)[:80]
    raise AssertionError("a file of garbage loaded as weights")


CHECKS: dict[str, Callable[[_Subject], str]] = {
    "probability": _probability, "deterministic": _deterministic, "batch_equals_loop": _batch_equals_loop,
    "one_frame": _one_frame, "bad_inputs_refused": _bad_inputs_refused, "save_load": _save_load,
    "foreign_file_refused": _foreign_file_refused,
}


def run_check(name: str, check: str, *, weights=None, small: bool = False, device: str = "cpu", seed: int = 0) -> CheckResult:
    """One check of the contract against one detector."""
    try:
        subject = _Subject(name, weights, small, device, seed)
        subject.make()
    except FakebenchError as err:
        return CheckResult(check, False, f"cannot make the detector: {err}")
    return _run(CHECKS[check], check, subject)


def run_contract(name: str, *, weights=None, small: bool = False, device: str = "cpu", seed: int = 0) -> list[CheckResult]:
    """Every check against one detector; ``builds`` first (nothing else runs when it fails)."""
    try:
        subject = _Subject(name, weights, small, device, seed)
        detector = subject.make()
    except FakebenchError as err:
        return [CheckResult("builds", False, str(err))]
    results = [CheckResult("builds", True, f"{type(detector).__name__} ({subject.entry.origin})")]
    return results + [_run(fn, check, subject) for check, fn in CHECKS.items()]


def _run(fn: Callable[[_Subject], str], check: str, subject: _Subject) -> CheckResult:
    try:
        return CheckResult(check, True, fn(subject))
    except AssertionError as err:
        return CheckResult(check, False, str(err).strip().splitlines()[0] if str(err).strip() else "assertion failed")
    except Exception as err:  # noqa: BLE001  (a detector under test may raise anything; that is a failed check)
        where = traceback.extract_tb(err.__traceback__)[-1]
        return CheckResult(check, False, f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''} "
                                         f"({Path(where.filename).name}:{where.lineno})")
