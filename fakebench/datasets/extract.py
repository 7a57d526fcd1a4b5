"""Face crops + landmarks for every video of an index, resumable, with a status per video.

``extract_index(index, out, settings)`` samples ``settings.frames`` evenly spaced frames of each
row (its ``[start_frame, stop_frame)`` range when it has one), tracks the face with
``FaceExtractor`` and writes, under ``out``:

- ``tracks/<video id>-<hash>.npz``: the ``FaceTrack`` (crops ``uint8 (N,S,S,3) RGB``, boxes, 5/68
  landmarks, affines; ``FaceTrack.load`` reads it), also for videos without a face;
- ``status.jsonl``: one line per finished video, appended in one write after its track is on disk
  (what makes a run resumable: an interrupted run is started again with the same command and skips
  what is done; a line a kill cut short is dropped, and that video is done again);
- ``status.parquet`` / ``status.csv``: one row per index row, in index order: ``status`` is
  ``ok`` (a face in at least one sampled frame), ``no face`` or ``unreadable`` (missing, not a
  video, damaged: ``error`` says which), with ``sampled``, ``with_face``, ``several_faces``,
  ``seconds`` and the ``track`` file. No row is dropped.
- ``extract.json``: the settings; resuming with other settings is refused.

``out`` is claimed as fakebench's (``outputs.output_folder``: a folder of someone else's is refused,
one job per folder) and every file a later run reads is written atomically and durably, so a run
killed anywhere (SIGKILL, power cut) resumes to the tables of an uninterrupted one. On resume, the
temporary files of a killed run are removed (``outputs.lock``), and a track file that is damaged
(cut short by something else) is extracted again, with one warning line.

The face cache (``<cache>/faces``, by file content) is used too, unless ``use_cache=False``.
``threads`` torch threads per process (default 1) and ``workers`` processes. MTCNN is many small
operations: on the 2-core machine this was measured on, one thread ran 3-4x faster than two
(threads wait on each other), so the default is one thread per process and more processes for
more cores. ``workers > 1`` runs videos in separate (spawned) processes, each loading the models
once (a few seconds each); see BENCHMARKS.md for the figures.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
import zipfile
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fakebench import outputs
from fakebench.errors import ConfigError, FakebenchError, MediaError
from fakebench.files import append_line, atomic_path, complete_lines, stable_hash, write_json

if TYPE_CHECKING:
    import pandas as pd

    from fakebench.faces.track import FaceTrack

log = logging.getLogger("fakebench.datasets")

STATUSES = ("ok", "no face", "unreadable")
STATUS_COLUMNS = ("video_id", "path", "label", "split", "status", "sampled", "with_face", "several_faces", "error",
                  "seconds", "track")


@dataclass(frozen=True)
class ExtractSettings:
    """What decides the crops (stored in ``extract.json``; a resumed run must use the same)."""

    frames: int = 32  # evenly spaced frames per video: the protocol of DeepfakeBench and most papers
    size: int = 256  # crop side in pixels
    margin: float = 0.25
    align: str = "landmarks"
    landmarks: bool = True
    min_score: float = 0.9
    batch_size: int = 16  # frames per MTCNN batch

    def __post_init__(self) -> None:
        for name in ("frames", "size", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive integer, got {getattr(self, name)}")


def track_name(video_id: str) -> str:
    """File name of a video's track: readable id plus a hash (ids may hold '/' and ':')."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", video_id).strip("_")[:80]
    return f"{safe}-{stable_hash(video_id, 8)}.npz"


def load_track(out: str | os.PathLike, video_id: str) -> FaceTrack:
    """The ``FaceTrack`` extracted for ``video_id`` into ``out``."""
    from fakebench.faces.track import FaceTrack

    path = Path(out) / "tracks" / track_name(video_id)
    if not path.is_file():
        raise FakebenchError(f"{path}: no track for {video_id!r}; run `fakebench data extract INDEX --out {out}`")
    return FaceTrack.load(path)


def load_status(out: str | os.PathLike) -> pd.DataFrame:
    """``status.parquet`` of a finished extraction."""
    import pandas as pd
    import pyarrow as pa

    path = Path(out) / "status.parquet"
    if not path.is_file():
        raise FakebenchError(f"{path}: no status table; run `fakebench data extract INDEX --out {out}`")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as err:
        raise FakebenchError(f"{path}: not a readable status table ({err}); run `fakebench data extract INDEX --out "
                             f"{out}` again: it rewrites the table from status.jsonl") from err


def _whole(track_file: Path) -> bool:
    """Whether a track file is a complete zip (its directory sits at the end: a cut file has none)."""
    try:
        with zipfile.ZipFile(track_file) as archive:
            return "meta.npy" in archive.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


# -- one video -------------------------------------------------------------------------------------

_WORKER: dict = {}


def _make_extractor(settings: ExtractSettings, device: str, use_cache: bool):
    from fakebench.faces import FaceExtractor

    return FaceExtractor(size=settings.size, margin=settings.margin, align=settings.align,
                         landmarks=settings.landmarks, min_score=settings.min_score, batch_size=settings.batch_size,
                         device=device, use_cache=use_cache)


def _init_worker(settings: ExtractSettings, device: str, use_cache: bool, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    _WORKER["extractor"] = _make_extractor(settings, device, use_cache)


def _run_job(job: dict, settings: ExtractSettings, extractor=None) -> dict:
    """Extract one video; never raises for a bad video (the status says what happened)."""
    extractor = extractor or _WORKER["extractor"]
    began = time.perf_counter()
    result = {"video_id": job["video_id"], "path": job["path"], "sampled": 0, "with_face": 0, "several_faces": 0,
              "error": "", "track": ""}
    try:
        track = extractor.extract(job["path"], count=settings.frames, start=job["start"] or 0, stop=job["stop"],
                                  progress=False)
    except (MediaError, OSError, ValueError) as err:  # ValueError: a frame range outside the video
        result.update(status="unreadable", error=str(err))
    else:
        track.save(job["track_file"])
        result.update(status="ok" if track.n_with_face else "no face", sampled=len(track), with_face=track.n_with_face,
                      several_faces=int((track.n_faces > 1).sum()),
                      track=str(Path(job["track_file"]).relative_to(job["out"])))
    result["seconds"] = round(time.perf_counter() - began, 3)
    return result


# -- the index -------------------------------------------------------------------------------------

def _previous(status_file: Path) -> dict[str, dict]:
    done: dict[str, dict] = {}
    if not status_file.is_file():
        return done
    for line in complete_lines(status_file):  # a line cut by a kill is not there: that video is done again
        try:
            row = json.loads(line)
        except ValueError:  # a cut line that a later run ended with a newline
            continue
        if isinstance(row, dict) and row.get("status") in STATUSES:
            done[row["video_id"]] = row
    return done


def _check_settings(out: Path, settings: ExtractSettings) -> bool:
    """Refuse other settings than the folder's; False when its settings file is missing or damaged (then what
    the folder holds was made with unknown settings)."""
    file = out / "extract.json"
    wanted = asdict(settings)
    trusted = file.is_file()
    if trusted:
        try:
            before = json.loads(file.read_text())["settings"]
        except (ValueError, KeyError, TypeError):  # cut short or overwritten by something else
            before = None
        if not isinstance(before, dict):
            before, trusted = None, False
        if before == wanted:
            return True
        if before is not None:
            diff = ", ".join(f"{k} {before.get(k)} -> {v}" for k, v in wanted.items() if before.get(k) != v)
            raise ConfigError(f"{out} holds an extraction with other settings ({diff}); use another --out, or the "
                              "same settings to resume it")
    write_json(file, {"settings": wanted})
    return trusted


def extract_index(index: pd.DataFrame, out: str | os.PathLike, settings: ExtractSettings | None = None, *,
                  workers: int = 1, threads: int = 1, device: str = "auto", use_cache: bool = True,
                  retry_failed: bool = False,
                  progress: bool = True, extractor=None) -> pd.DataFrame:
    """Extract every row of ``index`` into ``out`` (see module doc); returns the status table.

    Videos already done in ``out`` are skipped (``unreadable`` ones are tried again with
    ``retry_failed``). ``extractor``: an object with ``FaceExtractor.extract``'s signature, used
    in this process instead of building one (tests; needs ``workers=1``).
    """
    settings = settings or ExtractSettings()
    if workers < 1 or threads < 1:
        raise ConfigError(f"--workers and --threads must be >= 1, got {workers} and {threads}")
    if extractor is not None and workers != 1:
        raise ConfigError("a given extractor runs in this process: use workers=1")
    out = Path(out)
    with outputs.output_folder(out, "face tracks"):  # before any work: someone else's folder is refused
        return _extract_into(index, out, settings, workers=workers, threads=threads, device=device,
                             use_cache=use_cache, retry_failed=retry_failed, progress=progress, extractor=extractor)


def _extract_into(index: pd.DataFrame, out: Path, settings: ExtractSettings, *, workers: int, threads: int,
                  device: str, use_cache: bool, retry_failed: bool, progress: bool, extractor) -> pd.DataFrame:
    """``extract_index`` in a folder this process holds."""
    import pandas as pd
    from tqdm import tqdm

    (out / "tracks").mkdir(parents=True, exist_ok=True)
    trusted = _check_settings(out, settings)
    status_file = out / "status.jsonl"
    done = _previous(status_file)
    if done and not trusted:
        log.warning("%s: extract.json is missing or damaged, so the settings of the %d finished videos are unknown; "
                    "extracting them again", out, len(done))
        done = {}

    jobs, damaged = [], []
    for row in index.itertuples(index=False):
        before = done.get(row.video_id)
        track_file = out / "tracks" / track_name(row.video_id)
        if before is not None and before.get("path") == row.path:
            if before["status"] == "unreadable":
                if not retry_failed:
                    continue
            elif track_file.is_file():
                if _whole(track_file):
                    continue
                damaged.append(track_file.name)
        jobs.append({"video_id": row.video_id, "path": row.path, "out": str(out), "track_file": str(track_file),
                     "start": None if pd.isna(row.start_frame) else int(row.start_frame),
                     "stop": None if pd.isna(row.stop_frame) else int(row.stop_frame)})
    if damaged:
        log.warning("%s: %d track file(s) damaged (cut short by something else?), extracted again: %s", out,
                    len(damaged), ", ".join(damaged[:3]) + (f" and {len(damaged) - 3} more" if len(damaged) > 3 else ""))
    skipped = len(index) - len(jobs)
    if skipped:
        log.info("%s: %d of %d videos already done, %d to go", out, skipped, len(index), len(jobs))

    began = time.perf_counter()
    frames = 0
    bar = tqdm(total=len(jobs), desc="extract", unit="video", disable=not progress)
    if status_file.is_file() and status_file.stat().st_size:
        with open(status_file, "rb") as fh:
            fh.seek(-1, os.SEEK_END)
            torn = fh.read(1) != b"\n"
        if torn:  # end the line a kill cut, so that the next one stands alone
            append_line(status_file, "")

    def finish(result: dict) -> None:
        nonlocal frames
        frames += result["sampled"]
        done[result["video_id"]] = result
        append_line(status_file, json.dumps(result))  # one write, after the track file is on disk
        bar.update(1)
        bar.set_postfix_str(f"{frames / max(time.perf_counter() - began, 1e-9):.1f} frames/s")

    try:
        if workers == 1:
            _run_here(jobs, settings, extractor, threads, finish, device, use_cache)
        else:
            _run_pool(jobs, settings, device, use_cache, workers, threads, finish)
    finally:
        bar.close()
    elapsed = time.perf_counter() - began
    if jobs:
        log.info("extracted %d videos (%d frames) in %.1f s: %.2f frames/s, %.2f videos/s with %d worker(s) x %d "
                 "thread(s)", len(jobs), frames, elapsed, frames / max(elapsed, 1e-9), len(jobs) / max(elapsed, 1e-9),
                 workers, threads)
    table = _status_table(index, done)
    with atomic_path(out / "status.parquet") as tmp:
        table.to_parquet(tmp, index=False)
    with atomic_path(out / "status.csv") as tmp:
        table.to_csv(tmp, index=False)
    table.attrs = {"frames": frames, "seconds": elapsed, "extracted": len(jobs), "skipped": skipped, "workers": workers,
                   "threads": threads}
    return table


def _run_here(jobs: list[dict], settings: ExtractSettings, extractor, threads: int, finish, device: str,
              use_cache: bool) -> None:
    """In this process; torch's thread count is set for the run and put back after (a given extractor: untouched)."""
    if not jobs:
        return
    if extractor is not None:
        for job in jobs:
            finish(_run_job(job, settings, extractor))
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        extractor = _make_extractor(settings, device, use_cache)
        for job in jobs:
            finish(_run_job(job, settings, extractor))
    finally:
        torch.set_num_threads(before)


def _run_pool(jobs: list[dict], settings: ExtractSettings, device: str, use_cache: bool, workers: int, threads: int,
              finish) -> None:
    import multiprocessing

    context = multiprocessing.get_context("spawn")  # torch and OpenCV threads do not survive fork
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                               initargs=(settings, device, use_cache, threads))
    pending: set[Future] = set()
    queue = iter(jobs)
    try:
        while True:
            while len(pending) < 2 * workers:
                job = next(queue, None)
                if job is None:
                    break
                pending.add(pool.submit(_run_job, job, settings))
            if not pending:
                break
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                finish(future.result())
    except BrokenProcessPool as err:
        pool.shutdown(wait=False, cancel_futures=True)
        raise FakebenchError("an extraction worker process died (out of memory? or, from a Python script, a missing "
                             "`if __name__ == '__main__':` guard around workers > 1); finished videos are kept: run "
                             "again to resume, with fewer --workers") from err
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _status_table(index: pd.DataFrame, done: dict[str, dict]) -> pd.DataFrame:
    import pandas as pd

    rows = []
    for row in index.itertuples(index=False):
        result = done.get(row.video_id, {})
        rows.append({"video_id": row.video_id, "path": row.path, "label": row.label, "split": row.split,
                     "status": result.get("status", "unreadable"), "sampled": result.get("sampled", 0),
                     "with_face": result.get("with_face", 0), "several_faces": result.get("several_faces", 0),
                     "error": result.get("error", "" if result else "not extracted"),
                     "seconds": result.get("seconds", 0.0), "track": result.get("track", "")})
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))
