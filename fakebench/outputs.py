"""What fakebench may replace, and one writer per output folder.

A folder fakebench writes carries a marker, ``.fakebench.json`` (what wrote it, when, which command).
fakebench clears or replaces only folders that carry it: a folder without one that is not empty
(someone's ``thesis.tex``) is refused with one line naming it and ``--out``. Output folders of a
fakebench from before the marker (an ``env.json`` of fakebench's, a ``demo.json``, a face export) are
recognised and marked. A single output file (``--out report.html``) that already exists is replaced
only if fakebench wrote it and nobody changed it since: the ledger ``<cache>/written.json`` keeps the
size and modification time of every file written this way.

While a job writes a folder it holds ``.fakebench.lock`` (pid, host, command, start): a second job on
the same folder is refused with one line; the lock of a process that is gone (killed) is taken over
with a warning.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import re
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from fakebench.errors import OutputError
from fakebench.files import cache_root, disk_error, write_json

log = logging.getLogger(__name__)

MARKER = ".fakebench.json"
LOCK = ".fakebench.lock"
LEDGER = "written.json"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _command() -> str:
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv and sys.argv[0] else "python"


def _version() -> str:
    from fakebench import __version__

    return __version__


def marked(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` carries fakebench's marker."""
    return (Path(folder) / MARKER).is_file()


def _earlier_output(folder: Path) -> bool:
    """An output folder of a fakebench from before the marker: its own env.json, a demo, an extraction, a
    throughput folder, a face export."""
    try:
        env = json.loads((folder / "env.json").read_text())
        if isinstance(env, dict) and "fakebench" in env and "packages" in env:
            return True
    except (OSError, ValueError):
        pass
    try:
        demo = json.loads((folder / "demo.json").read_text())
        if isinstance(demo, dict) and {"preset", "seed", "stages"} <= demo.keys():
            return True
    except (OSError, ValueError):
        pass
    for name, keys in (("extract.json", {"settings"}), ("throughput.json", {"schema_version", "device"})):
        try:  # a `data extract` folder, a `bench throughput` folder
            found = json.loads((folder / name).read_text())
            if isinstance(found, dict) and keys <= found.keys():
                return True
        except (OSError, ValueError):
            pass
    return (folder / "track.npz").is_file() and (folder / "frames.csv").is_file()


_TEMPORARY = re.compile(r"\.(?P<stem>.+)\.[0-9a-f]{8}(?P<suffix>\.[^.]+)?")  # files.temp_beside's names


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is named like the temporary file of one of fakebench's atomic writes."""
    return _TEMPORARY.fullmatch(path.name) is not None


def _own_marker_temporaries(folder: Path) -> list[Path]:
    """What a kill while writing the marker leaves (``..fakebench.1a2b3c4d.json``)."""
    return [p for p in folder.glob("..fakebench.*.json") if is_temporary(p) and p.is_file()]


def sweep(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporaries killed writers left in ``folder`` and its subfolders (those without a marker of
    their own: another job's), and return them. Call it only while holding the folder's lock."""
    folder = Path(folder)
    found = []
    for entry in folder.iterdir():
        if entry.is_file() and not entry.is_symlink() and is_temporary(entry):
            found.append(entry)
        elif entry.is_dir() and not entry.is_symlink() and not marked(entry):
            found.extend(sweep(entry))
    for path in found:
        path.unlink(missing_ok=True)
    return found


def _refusal(folder: Path, what: str, flag: str) -> OutputError:
    names = sorted(p.name for p in folder.iterdir())
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return OutputError(f"{folder} is not empty and fakebench did not write it (it holds {shown}); fakebench "
                       f"writes {what} only into a new or empty folder or one of its own: choose another {flag}")


def claim(folder: str | os.PathLike, what: str = "its output", flag: str = "--out") -> Path:
    """Make ``folder`` one of fakebench's output folders, or refuse (``OutputError``).

    A missing or empty folder is created and marked; a marked one (or an earlier fakebench's output)
    is accepted as it is; anything else is refused, and nothing in it is touched.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file, not a folder: choose another {flag}")
    if folder.is_dir() and not marked(folder):
        leftovers = _own_marker_temporaries(folder)
        if any(p not in leftovers for p in folder.iterdir()) and not _earlier_output(folder):
            raise _refusal(folder, what, flag)
        for path in leftovers:  # a kill while the marker was being written: the folder was empty
            path.unlink(missing_ok=True)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if not marked(folder):
            write_json(folder / MARKER, {"written_by": f"fakebench {_version()}", "what": what,
                                         "command": _command(), "created": _now()})
    except OSError as err:
        raise (disk_error(folder, err) or err) from err
    return folder


def clear(folder: str | os.PathLike, what: str = "its output", flag: str = "--out") -> Path:
    """Empty ``folder`` for a fresh start, only if fakebench wrote it (the marker stays); else refuse."""
    folder = claim(folder, what, flag)
    for entry in folder.iterdir():
        if entry.name in (MARKER, LOCK):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return folder


def replace_folder(staging: Path, folder: Path, flag: str = "--out") -> None:
    """Put the finished ``staging`` folder in place of ``folder`` (which must be fakebench's or absent)."""
    if folder.exists():
        claim(folder, flag=flag)  # refuses a folder that is not ours before anything moves
        old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
        os.replace(folder, old)
        os.replace(staging, folder)
        shutil.rmtree(old)
    else:
        os.replace(staging, folder)
    if not marked(folder):
        write_json(folder / MARKER, {"written_by": f"fakebench {_version()}", "command": _command(), "created": _now()})


# -- single output files ----------------------------------------------------------------------------------
def _ledger_path() -> Path:
    return cache_root() / LEDGER


@contextlib.contextmanager
def _ledger() -> Iterator[dict]:
    """The ledger of output files, read and written under an exclusive lock (two jobs at once lose nothing)."""
    path = _ledger_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        try:
            entries = json.loads(path.read_text())
        except (OSError, ValueError):
            entries = {}
        before = dict(entries)
        yield entries
        if entries != before:
            write_json(path, entries)


def _stamp(path: Path) -> dict:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def check_file(path: str | os.PathLike, flag: str = "--out") -> Path:
    """Refuse (``OutputError``) to replace an existing file that fakebench did not write, or that changed since."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; expected a file name: choose another {flag}")
    if not path.exists():
        return path
    with _ledger() as entries:
        entry = entries.get(str(path.resolve()))
    if entry is None or entry.get("stamp") != _stamp(path):
        why = "fakebench did not write it" if entry is None else "it changed since fakebench wrote it"
        raise OutputError(f"{path} exists and {why}; fakebench does not replace it: choose another {flag} or move "
                          "the file away")
    return path


def record_file(path: str | os.PathLike) -> None:
    """Note in the ledger that fakebench just wrote ``path`` (so a later run may replace it)."""
    path = Path(path)
    with _ledger() as entries:
        entries[str(path.resolve())] = {"stamp": _stamp(path), "command": _command(), "written": _now()}


# -- one writer per folder --------------------------------------------------------------------------------
def _started(pid: int) -> str | None:
    """A process's start time in clock ticks since boot (Linux ``/proc``), to tell a reused pid; None elsewhere."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int, started: str | None) -> bool:
    """Whether the process that wrote a lock still runs (not merely another one with its pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        pass
    now = _started(pid)
    return started is None or now is None or now == started


@contextlib.contextmanager
def lock(folder: str | os.PathLike, flag: str = "--out") -> Iterator[Path]:
    """Hold ``folder/.fakebench.lock`` while the block runs; refuse if a live process holds it.

    The lock of a process that is gone on this host is taken over with a warning. A lock from another
    host cannot be checked: it is refused, and the message says which file to remove if that job is over.
    """
    folder = Path(folder)
    path = folder / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(), "since": _now(),
          "started": _started(os.getpid())}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except FileExistsError:
            try:
                owner = json.loads(path.read_text())
            except (OSError, ValueError):
                owner = {}
            if not owner:  # a lock whose writer died between creating and writing it
                log.warning("%s: an empty or unreadable lock file; taking it over", path)
                path.unlink(missing_ok=True)
                continue
            pid, host = owner.get("pid"), owner.get("host")
            if host == me["host"] and isinstance(pid, int) and pid != me["pid"] and not _alive(pid, owner.get("started")):
                log.warning("%s: taking over the lock of process %d, which is gone (it started %s: %s)", folder, pid,
                            owner.get("since"), owner.get("command"))
                path.unlink(missing_ok=True)
                continue
            if host == me["host"] and pid == me["pid"]:
                raise OutputError(f"{folder} is already being written by this process; one job per folder") from None
            where = f"process {pid} on {host}" if host != me["host"] else f"process {pid}"
            raise OutputError(f"{folder} is in use by {where} since {owner.get('since')} ({owner.get('command')}); "
                              f"wait for it to finish or choose another {flag}"
                              + (f" (if that job is over, delete {path})" if host != me["host"] else "")) from None
        except OSError as err:
            raise (disk_error(path, err) or err) from err
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(json.dumps(me) + "\n")
            break
    else:
        raise OutputError(f"{path}: could not take the lock after three tries; another job keeps taking it")
    try:
        if marked(folder):
            swept = sweep(folder)
            if swept:
                log.info("%s: removed %d temporary file(s) left by a killed run (%s)", folder, len(swept), swept[0].name)
        yield folder
    finally:
        with contextlib.suppress(OSError, ValueError):
            if json.loads(path.read_text()).get("pid") == me["pid"]:
                path.unlink()


@contextlib.contextmanager
def output_folder(folder: str | os.PathLike, what: str = "its output", flag: str = "--out") -> Iterator[Path]:
    """``claim`` the folder and hold its ``lock`` while the block writes into it."""
    folder = claim(folder, what, flag)
    with lock(folder, flag):
        yield folder

