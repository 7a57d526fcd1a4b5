"""What every data set layout shares: the registry, the reader protocol, and the folder checks.

A layout is a frozen dataclass whose fields are its options (``--compression``, ``--methods``...)
and whose ``records(root)`` lists the videos as ``VideoRecord``s. Adding one is one file plus one
decorator line (``@LAYOUTS.register("name")``) and an import in ``layouts/__init__.py``.

A folder that does not match raises ``DatasetLayoutError`` saying the pattern that was expected
and what is there instead; files that match the layout only partly (an unparseable name, a
video listed but absent) are reported with a warning and counted, never dropped without a word.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from fakebench.datasets.index import VideoRecord
from fakebench.errors import ConfigError, DatasetLayoutError
from fakebench.registry import Registry

log = logging.getLogger("fakebench.datasets")


class Layout(Protocol):
    """A data set layout: options are dataclass fields; ``records`` does the reading."""

    def records(self, root: Path | None) -> list[VideoRecord]: ...


LAYOUTS: Registry[type[Layout]] = Registry("data set layout")


def require_root(root: Path | None, layout: str, expected: str) -> Path:
    """The root folder, or a ``DatasetLayoutError`` when it is not given, missing or not a folder."""
    if root is None:
        raise ConfigError(f"the {layout} layout needs --root (expected {expected})")
    if not root.exists():
        raise DatasetLayoutError(f"{root}: no such folder; expected the {layout} root ({expected})")
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: is a file; expected the {layout} root folder ({expected})")
    return root


def found(folder: Path, limit: int = 8) -> str:
    """What a folder holds, for error messages: ``found folders: a, b; files: x.mp4``."""
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return f"{folder} cannot be listed"
    dirs = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
    files = [e.name for e in entries if e.is_file() and not e.name.startswith(".")]

    def listing(names: list[str]) -> str:
        more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
        return ", ".join(names[:limit]) + more

    parts = []
    if dirs:
        parts.append(f"found folders: {listing(dirs)}")
    if files:
        parts.append(f"{'files' if dirs else 'found files'}: {listing(files)}")
    return "; ".join(parts) if parts else "the folder is empty"


def layout_error(root: Path, expected: str, where: Path | None = None) -> DatasetLayoutError:
    """``DatasetLayoutError("expected <pattern>; found folders: ...")`` about ``where`` (default the root)."""
    where = where or root
    return DatasetLayoutError(f"{where}: expected {expected}; {found(where)}")


def videos_in(folder: Path, recursive: bool = False) -> list[Path]:
    """Video files (by extension) in ``folder``, sorted; hidden and temporary files skipped."""
    from fakebench.media import VIDEO_EXTS  # OpenCV loads only when a layout reads a folder

    if not folder.is_dir():
        return []
    pattern = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in pattern if p.is_file() and p.suffix.lower() in VIDEO_EXTS and not p.name.startswith("."))


def pick_names(asked: Iterable[str], known: Iterable[str], what: str, flag: str) -> list[str]:
    """``asked`` spelled as in ``known`` (case-insensitive); an unknown name raises with the closest match."""
    known = list(known)
    by_lower = {k.lower(): k for k in known}
    out = []
    for name in asked:
        if name.lower() not in by_lower:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.4)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown {what} {name!r} in {flag}{hint}; known: {', '.join(known) or 'none found'}")
        out.append(by_lower[name.lower()])
    return out


def warn_list(message: str, names: list[str], limit: int = 3) -> None:
    """One warning: ``message`` with the count and the first few names."""
    if names:
        more = f" (and {len(names) - limit} more)" if len(names) > limit else ""
        log.warning("%s: %d, e.g. %s%s", message, len(names), ", ".join(map(str, names[:limit])), more)
