"""Where fakebench keeps its caches, and writing files so that nothing half-written survives."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


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


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it onto ``final`` only if the block succeeds."""
    tmp = temp_beside(final, suffix)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, data: object) -> None:
    """Write ``data`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


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
        write_json(memo_file, memo)
    return digest


def stable_hash(data: object, length: int = 16) -> str:
    """Short hex digest of a JSON-serialisable value (settings dicts used as cache keys)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]
