"""Where fakebench keeps its caches, and writing files so that nothing half-written survives.

Every file a later run reads is written to a temporary name beside it, flushed to disk (the file,
then after the rename its folder) and renamed over the old one, so a kill or a power cut leaves
either the old file or the new one, never half of either. Logs grow by whole lines
(``append_line``); a reader drops a torn last line (``complete_lines``). A full disk or a read-only
destination is one ``OutputError`` line naming the file, and the previous file stays as it was.

For the reliability tests, ``FAKEBENCH_FAULT`` injects faults at the atomic writes of one process:
``kill:K`` SIGKILLs it at its K-th write, after the temporary file is complete and before the rename;
``enospc:K`` makes the K-th write fail with ENOSPC; ``FAKEBENCH_FAULT_LOG=FILE`` appends the path of
every write to FILE (how a test counts the writes of a job before choosing K).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

from fakebench.errors import OutputError

# errors of the destination, not of fakebench: one line each, and what to do
_DISK_ERRORS = {
    errno.ENOSPC: "no space left on the device: free some space or choose another place",
    errno.EDQUOT: "disk quota exceeded: free some space or choose another place",
    errno.EROFS: "the file system is read-only: choose another place",
    errno.EACCES: "permission denied: choose a folder you can write to",
    errno.EPERM: "operation not permitted: choose a folder you can write to",
    errno.EIO: "input/output error on the device: check the disk",
}
_writes = 0  # atomic writes of this process (the fault hook counts them)


def cache_root() -> Path:
    """The cache folder: ``$FAKEBENCH_CACHE``, else ``$XDG_CACHE_HOME/fakebench``, else ``~/.cache/fakebench``."""
    if os.environ.get("FAKEBENCH_CACHE"):
        return Path(os.environ["FAKEBENCH_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "fakebench"


def temp_beside(final: str | os.PathLike, suffix: str | None = None) -> Path:
    """A new empty temporary file in ``final``'s folder, keeping its suffix (or ``suffix``).

    Writers that pick a format from the extension (OpenCV, ffmpeg, numpy) still do the right thing;
    renaming it onto ``final`` is atomic because both sit on the same file system.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(100):
        tmp = final.parent / f".{final.stem}.{secrets.token_hex(4)}{suffix or final.suffix}"
        try:  # mode 0666 less the umask, like any new file (mkstemp would make it 0600)
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
        except FileExistsError:
            continue
        return tmp
    raise FileExistsError(f"{final.parent}: no free temporary name for {final.name} after 100 tries")


def disk_error(path: str | os.PathLike, err: OSError) -> OutputError | None:
    """The one-line ``OutputError`` for a full, read-only or failing destination; None for other errors."""
    hint = _DISK_ERRORS.get(err.errno)
    if hint is None:
        return None
    return OutputError(f"{path}: cannot write ({errno.errorcode.get(err.errno, err.errno)}): {hint}; "
                       f"the previous {Path(path).name} (if any) is left as it was")


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str | None = None, *, durable: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it onto ``final`` only if the block succeeds.

    ``durable``: fsync the file before the rename and its folder after it (a power cut then keeps
    the new file); off only for caches that are cheap to redo.
    """
    final = Path(final)
    try:
        tmp = temp_beside(final, suffix)
    except OSError as err:
        raise (disk_error(final, err) or err) from err
    try:
        try:
            yield tmp
            if durable:
                durable_replace(tmp, final)
            else:
                _fault(final)
                os.replace(tmp, final)
        except OSError as err:
            raise (disk_error(final, err) or err) from err
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def durable_replace(tmp: str | os.PathLike, final: str | os.PathLike) -> None:
    """Rename a finished temporary file onto ``final`` the way ``atomic_path`` does (fsync, fault hook, rename)."""
    tmp, final = Path(tmp), Path(final)
    _fsync(tmp)
    _fault(final)
    os.replace(tmp, final)
    _fsync(final.parent)


def write_bytes(path: str | os.PathLike, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path, durable=durable) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)


def write_text(path: str | os.PathLike, text: str, *, durable: bool = True) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_bytes(path, text.encode(), durable=durable)


def write_json(path: str | os.PathLike, data: object, *, durable: bool = True) -> None:
    """Write ``data`` as indented JSON, atomically."""
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", durable=durable)


def save_torch(obj: object, path: str | os.PathLike) -> None:
    """``torch.save`` atomically and durably; serialised in memory first, so a full disk is an OSError
    (one ``OutputError`` line) and not torch's own RuntimeError, and the previous file stays whole."""
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    write_bytes(path, buffer.getbuffer())


def append_line(path: str | os.PathLike, line: str, *, header: str | None = None) -> None:
    """Append one line to a log in a single write (``header`` first when the file is new or empty).

    A kill can only tear the last line; ``complete_lines`` drops it when the log is read back.
    """
    path = Path(path)
    data = line.rstrip("\n") + "\n"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            if header is not None and os.fstat(fd).st_size == 0:
                data = header.rstrip("\n") + "\n" + data
            os.write(fd, data.encode())
        finally:
            os.close(fd)
    except OSError as err:
        raise (disk_error(path, err) or err) from err


def complete_lines(path: str | os.PathLike) -> list[str]:
    """A log's lines without a torn last line (one a kill cut before its newline)."""
    text = Path(path).read_text()
    lines = text.split("\n")
    return lines[:-1]  # the piece after the last newline: empty, or torn


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as err:  # some file systems cannot fsync a folder; the rename itself is still atomic
        if err.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):
            raise
    finally:
        os.close(fd)


def _fault(final: Path) -> None:
    """The test hook described in the module docstring (no environment variable: nothing happens)."""
    global _writes
    spec = os.environ.get("FAKEBENCH_FAULT")
    record = os.environ.get("FAKEBENCH_FAULT_LOG")
    if not spec and not record:
        return
    _writes += 1
    if record:
        with open(record, "a") as fh:
            fh.write(f"{final}\n")
    if spec:
        kind, _, count = spec.partition(":")
        if count.isdigit() and _writes == int(count):
            if kind == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if kind == "enospc":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(final))


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def content_key(path: str | os.PathLike, cache: Path | None = None) -> str:
    """sha256 of a file's content, memoised by (path, size, mtime) so a large video is hashed once.

    The memo lives in ``<cache>/hashes.json``; a stale or unreadable memo only costs a re-hash.
    """
    path = Path(path).resolve()
    stat = path.stat()
    memo_file = (cache or cache_root()) / "hashes.json"
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    try:
        memo = json.loads(memo_file.read_text())
    except (OSError, ValueError):
        memo = {}
    entry = memo.get(str(path))
    if entry and entry.get("stamp") == stamp:
        return entry["sha256"]
    digest = sha256_file(path)
    memo[str(path)] = {"stamp": stamp, "sha256": digest}
    with contextlib.suppress(OSError):
        write_json(memo_file, memo, durable=False)
    return digest


def stable_hash(data: object, length: int = 16) -> str:
    """Short hex digest of a JSON-serialisable value (settings dicts used as cache keys)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
