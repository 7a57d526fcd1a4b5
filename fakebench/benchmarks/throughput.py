"""How fast each detector's whole pipeline runs, stage by stage, and how much memory it takes.

Per detector and video, three stages are timed separately (``time.perf_counter``; on CUDA each
stage ends with ``torch.cuda.synchronize()`` so queued GPU work is counted where it belongs):

- ``decode``: reading the frames the detector samples (grabbing through the frames in between,
  as the real pipeline does);
- ``faces``: MTCNN detection, dlib landmarks and alignment (``FaceExtractor.extract_frames``, no cache);
- ``detector``: the detector's verdict on the face track (``detect.score.judge``, as bench run scores).

Reported: frames/s and videos/s over all three stages, p50/p95 latency per video, the share of each
stage, peak resident memory of the process while the detector ran (``VmHWM`` from /proc, reset before
each detector where the kernel allows it, else the process's lifetime peak: ``rss_scope`` says
which), and on CUDA the peak GPU memory torch allocated. The first video is run once untimed first
(model loading, allocator warm-up). Every-frame detectors (blink) read at most ``max_frames`` frames
per video so that a long video does not sit in memory whole; the load average of the machine is
recorded beside the figures.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np

from fakebench.errors import FakebenchError

log = logging.getLogger("fakebench.benchmarks")

SCHEMA_VERSION = 1
STAGES = ("decode", "faces", "detector")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _reset_peak_rss() -> str:
    """Reset the kernel's peak-RSS mark for this process; returns the scope the next reading covers."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return "detector"
    except OSError:
        return "process"


def peak_rss_mb() -> float:
    """Peak resident set size in MiB (VmHWM, else getrusage's ru_maxrss)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sampled_frames(detector, path: str | os.PathLike, max_frames: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Decode the frames ``detector.request`` samples from ``path`` (at most ``max_frames``): frames, numbers, fps."""
    from fakebench.media import iter_frames, probe_video

    info = probe_video(path)
    indices = detector.request.indices(info.n_frames)[:max_frames]
    got_idx, frames = [], []
    for index, frame in iter_frames(path, indices):
        got_idx.append(index)
        frames.append(frame)
    if not frames:
        raise FakebenchError(f"{path}: none of the sampled frames decode; the file is damaged, re-encode it")
    return np.stack(frames), np.asarray(got_idx, np.int64), info.fps


def measure(label: str, detector, paths: list[str], *, device: str = "cpu", max_frames: int = 300,
            progress: bool = False) -> dict:
    """Time ``detector``'s pipeline on ``paths`` (see the module docstring); one dict of figures."""
    from tqdm import tqdm

    from fakebench.detect.score import judge

    if not paths:
        raise FakebenchError("throughput: no videos to time; pass video files or a config with a data set")
    extractor = detector.request.extractor(device=device, use_cache=False)
    scope = _reset_peak_rss()
    cuda = device.startswith("cuda")
    if cuda:
        import torch

        torch.cuda.reset_peak_memory_stats()

    def one(path: str) -> tuple[int, dict[str, float]]:
        t0 = time.perf_counter()
        frames, indices, fps = sampled_frames(detector, path, max_frames)
        _sync(device)
        t1 = time.perf_counter()
        track = extractor.extract_frames(frames, indices, fps=fps, source=str(path))
        _sync(device)
        t2 = time.perf_counter()
        judge(detector, track)
        _sync(device)
        t3 = time.perf_counter()
        return len(frames), {"decode": t1 - t0, "faces": t2 - t1, "detector": t3 - t2}

    one(paths[0])  # warm-up: models load, allocators settle
    per_video: list[dict[str, float]] = []
    n_frames = 0
    for path in tqdm(paths, desc=f"throughput {label}", unit="video", disable=not progress):
        n, stages = one(path)
        n_frames += n
        per_video.append(stages)
    totals = {s: float(sum(v[s] for v in per_video)) for s in STAGES}
    latency = np.array([sum(v.values()) for v in per_video])
    total = float(latency.sum())
    result = {
        "detector": label, "device": device, "videos": len(per_video), "frames": n_frames,
        "frames_per_s": n_frames / total if total else None, "videos_per_s": len(per_video) / total if total else None,
        "latency_p50_s": float(np.percentile(latency, 50)), "latency_p95_s": float(np.percentile(latency, 95)),
        "seconds": {s: round(totals[s], 4) for s in STAGES},
        "share": {s: round(totals[s] / total, 4) if total else None for s in STAGES},
        "frames_per_s_by_stage": {s: n_frames / totals[s] if totals[s] else None for s in STAGES},
        "peak_rss_mb": round(peak_rss_mb(), 1), "rss_scope": scope, "max_frames": max_frames,
        "peak_gpu_mb": None,
    }
    if cuda:
        import torch

        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return result


def write(results: list[dict], out: str | os.PathLike, device: str) -> Path:
    """Merge ``results`` into ``out/throughput.json`` (one entry per detector, the newest wins), atomically.

    The caller holds ``out`` (``outputs.output_folder``). A damaged earlier file (cut short by
    something else) loses its entries, with a warning, instead of stopping the write.
    """
    import datetime
    import json

    from fakebench.files import write_json
    from fakebench.runtime import env_info

    path = Path(out) / "throughput.json"
    old = {}
    if path.is_file():
        try:
            old = {d["detector"]: d for d in json.loads(path.read_text()).get("detectors", [])}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            log.warning("%s is damaged (cut short by something else?); its earlier entries are lost, writing the new "
                        "ones", path)
            old = {}
    for r in results:
        old[r["detector"]] = r
    write_json(path, {"schema_version": SCHEMA_VERSION, "device": device, "load_average": list(os.getloadavg()),
                      "measured": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                      "env": env_info(device), "detectors": list(old.values())})
    return path


def measure_config(config, paths: list[str], out: str | os.PathLike, *, device: str = "cpu", max_frames: int = 300,
                   progress: bool = False) -> list[dict]:
    """Time every detector of a ``BenchConfig`` on ``paths`` and write ``out/throughput.json``."""
    from fakebench.benchmarks.runner import build_detector

    results = []
    for spec in config.detectors:
        built = build_detector(spec, device=device, seed=config.seed)
        results.append(measure(built.label, built.detector, paths, device=device, max_frames=max_frames,
                               progress=progress))
        log.info("%s: %.1f frames/s, p50 %.2f s per video", built.label, results[-1]["frames_per_s"] or 0,
                 results[-1]["latency_p50_s"])
    write(results, out, device)
    return results
