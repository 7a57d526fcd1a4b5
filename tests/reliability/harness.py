"""Kill a fakebench command with SIGKILL, run it again, and compare with an uninterrupted run.

Two ways to kill, both real SIGKILLs of a real ``python -m fakebench`` subprocess:
- at a write: ``FAKEBENCH_FAULT=kill:K`` (``fakebench.files``) kills the process at its K-th atomic
  write, with the temporary file complete and not yet renamed; K is drawn (seeded) from the writes an
  uninterrupted run makes, so the kills land all over the job, deterministically;
- after a time: the harness sends SIGKILL after a seeded delay, wherever the job is (mid-write too).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

IGNORED = {".fakebench.json", ".fakebench.lock"}


def env(**extra: str) -> dict:
    """The test session's environment (its FAKEBENCH_CACHE, HF_HUB_OFFLINE) on one thread, plus ``extra``."""
    out = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", **extra}
    for key in ("FAKEBENCH_FAULT", "FAKEBENCH_FAULT_LOG"):
        if key not in extra:
            out.pop(key, None)
    return out


def fakebench(args: list[str], *, timeout: float = 600, **extra: str) -> subprocess.CompletedProcess:
    """Run ``python -m fakebench ARGS`` to the end (or until a fault kills it)."""
    return subprocess.run([sys.executable, "-m", "fakebench", *map(str, args)], env=env(**extra), capture_output=True,
                          text=True, timeout=timeout)


def count_writes(args: list[str], log: Path, **extra: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Run uninterrupted, recording every atomic write; returns the run and the written paths in order."""
    log.unlink(missing_ok=True)
    done = fakebench(args, FAKEBENCH_FAULT_LOG=str(log), **extra)
    return done, log.read_text().splitlines() if log.exists() else []


def kill_at_write(args: list[str], k: int, **extra: str) -> subprocess.CompletedProcess:
    """Run until the K-th atomic write and SIGKILL there; asserts it really died of SIGKILL."""
    done = fakebench(args, FAKEBENCH_FAULT=f"kill:{k}", **extra)
    assert done.returncode == -signal.SIGKILL, f"expected SIGKILL at write {k}, got rc {done.returncode}: {done.stderr}"
    return done


def kill_after(args: list[str], seconds: float, **extra: str) -> int:
    """Start the command, SIGKILL it after ``seconds`` (if it is still running); returns its exit status."""
    proc = subprocess.Popen([sys.executable, "-m", "fakebench", *map(str, args)], env=env(**extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
    return proc.wait()


def points(seed: int, n: int, count: int) -> list[int]:
    """``count`` distinct write numbers in [1, n], seeded."""
    rng = np.random.default_rng(seed)
    return sorted(int(k) for k in rng.choice(np.arange(1, n + 1), size=min(count, n), replace=False))


def temporaries(folder: Path) -> list[Path]:
    """Temporary files of fakebench's atomic writes (``.name.1a2b3c4d.ext``) left in ``folder``."""
    return [p for p in folder.rglob(".*") if p.is_file() and p.name not in IGNORED and len(p.name.split(".")) >= 3]


def digest(folder: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """sha256 of every file under ``folder`` (by relative path), less markers, locks, temporaries and ``skip`` globs."""
    temps = set(temporaries(folder))
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if not path.is_file() or path.name in IGNORED or path in temps or any(Path(rel).match(g) for g in skip):
            continue
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def wait_for(path: Path, timeout: float = 60) -> bool:
    """Poll until ``path`` exists."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists():
            return True
        time.sleep(0.05)
    return False
