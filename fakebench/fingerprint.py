"""The fingerprint of the code that produces a score, and which fingerprint each cached unit was scored under.

``bench run`` files each unit's result under a key that includes the fingerprint, so changing the
code that produced a score scores the unit again. Four parts (``PARTS``), each a short sha256 except
the version:

- ``fakebench``: ``fakebench.__version__``;
- ``detector``: the source of every module that defines a class of the detector's MRO inside
  fakebench or the plug-in's own top-level package, plus ``detect/base.py`` and ``detect/score.py``.
  A class that declares its own ``code_version`` stands for its module by that string instead of
  the module's source (a plug-in whose file changes without changing its scores keeps its cache);
- ``faces``: the face pipeline, ``fakebench/faces/*.py`` and ``fakebench/media.py``;
- ``perturb``: ``fakebench/benchmarks/perturb.py``, for perturbed units only (``None`` for clean ones).

Sources are read once per process. Not covered: third-party packages (torch, timm, OpenCV, the face
detector's weights) and modules a detector imports without subclassing from them; a plug-in that
depends on such code can say so with ``code_version``.

``Ledger`` keeps, per detector, the fingerprint each unit was last scored under (a code-independent
unit key -> fingerprint), so a run can say why a unit was not read from the cache: never scored
("new"), scored under other code ("code changed", naming the parts) or its file is gone ("missing").
"""

from __future__ import annotations

import inspect
import json
import logging
import sys
import time
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

PACKAGE = Path(__file__).resolve().parent
PARTS = {"fakebench": "fakebench version", "detector": "detector code", "faces": "face pipeline",
         "perturb": "perturbation code"}  # part -> what a log line calls it
LEDGER_FORMAT = 1
SAVE_EVERY = 30.0  # seconds between ledger writes during a run (each write is the whole file)


def code_fingerprint(cls: type, perturbed: bool = False) -> dict[str, str | None]:
    """``{part: hash}`` (see ``PARTS``) of the code that scores a unit with detector class ``cls``."""
    from fakebench import __version__

    return {"fakebench": __version__, "detector": detector_code(cls), "faces": face_pipeline_code(),
            "perturb": perturb_code() if perturbed else None}


def for_unit(code: dict, perturbed: bool) -> dict:
    """One unit's fingerprint from a detector's ``code_fingerprint(cls, perturbed=True)``: clean units drop ``perturb``."""
    return {**code, "perturb": code.get("perturb") if perturbed else None}


def changed_parts(old: dict, new: dict) -> list[str]:
    """What a log line calls each part that differs between two fingerprints, in ``PARTS`` order."""
    return [label for part, label in PARTS.items() if old.get(part) != new.get(part)]


@cache
def detector_code(cls: type) -> str:
    """Hash of the detector's own code (see the module docstring)."""
    from fakebench.files import stable_hash

    scope = {"fakebench", cls.__module__.split(".")[0]}
    sources: dict[str, str] = {}
    for klass in cls.__mro__:
        module = klass.__module__
        if module.split(".")[0] not in scope or module in sources:
            continue  # object, ABC, ...; a module seen through a more derived class
        version = klass.__dict__.get("code_version")
        sources[module] = f"code_version {version}" if version is not None else _module_source(module, klass)
    for name in ("detect/base.py", "detect/score.py"):
        sources[name] = _source_sha256(str(PACKAGE / name))
    return stable_hash(sources)


@cache
def face_pipeline_code() -> str:
    """Hash of ``fakebench/faces/*.py`` and ``fakebench/media.py``."""
    from fakebench.files import stable_hash

    files = sorted((PACKAGE / "faces").glob("*.py")) + [PACKAGE / "media.py"]
    return stable_hash({p.relative_to(PACKAGE).as_posix(): _source_sha256(str(p)) for p in files})


@cache
def perturb_code() -> str:
    """Hash of ``fakebench/benchmarks/perturb.py``."""
    return _source_sha256(str(PACKAGE / "benchmarks" / "perturb.py"))[:16]


@cache
def _source_sha256(path: str) -> str:
    from fakebench.files import sha256_file

    return sha256_file(path)


def _module_source(module: str, klass: type) -> str:
    """sha256 of the file a class's module was loaded from; of the class's own source where there is no file."""
    import hashlib

    loaded = sys.modules.get(module)
    try:
        path = inspect.getsourcefile(loaded) if loaded is not None else None
    except TypeError:  # a built-in module
        path = None
    if path and Path(path).is_file():
        return _source_sha256(path)
    try:
        return hashlib.sha256(inspect.getsource(klass).encode()).hexdigest()
    except (OSError, TypeError):
        log.warning("no source for %s.%s: its cached scores survive changes to its code; give the class a "
                    "`code_version` and change it with its scoring", module, klass.__qualname__)
        return "no source"


class Ledger:
    """The fingerprint each unit of one detector was last scored under, in a JSON file (written atomically).

    ``{"format": 1, "code": {id: fingerprint}, "units": {unit key: id}}``: fingerprints are stored
    once, units point at them. An unreadable file is an empty ledger (every miss then reads "new").
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        ok = isinstance(data, dict) and data.get("format") == LEDGER_FORMAT
        code, units = (data.get("code"), data.get("units")) if ok else ({}, {})
        self.code: dict[str, dict] = code if isinstance(code, dict) else {}
        self.units: dict[str, str] = units if isinstance(units, dict) else {}
        self.dirty = False
        self.saved = time.monotonic()

    def why(self, unit: str, code: dict) -> tuple[str, list[str]]:
        """Why ``unit`` is not in the cache under ``code``: ("new" | "code changed" | "missing", changed parts)."""
        from fakebench.files import stable_hash

        last = self.units.get(unit)
        if last is None or last not in self.code:
            return "new", []
        if last != stable_hash(code):
            return "code changed", changed_parts(self.code[last], code)
        return "missing", []  # scored under this very code, but its file is gone or unreadable

    def note(self, unit: str, code: dict) -> None:
        """``unit`` was just scored (or read from the cache) under ``code``."""
        from fakebench.files import stable_hash

        key = stable_hash(code)
        if self.units.get(unit) != key:
            self.units[unit] = key
            self.code.setdefault(key, dict(code))
            self.dirty = True
            if time.monotonic() - self.saved > SAVE_EVERY:  # an interrupted run loses at most this much
                self.save()

    def save(self) -> None:
        from fakebench.files import write_json

        if self.dirty:
            used = set(self.units.values())
            write_json(self.path, {"format": LEDGER_FORMAT, "units": self.units,
                                   "code": {k: v for k, v in self.code.items() if k in used}})
            self.dirty = False
        self.saved = time.monotonic()
