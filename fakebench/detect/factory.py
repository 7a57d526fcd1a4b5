"""Where detectors come from, and the one way to make one (``create``).

A detector name resolves, in this order, to:

1. a built-in detector (``DETECTORS``: blink, artifacts, classifier, the published adapters);
2. ``pkg.module:Class``: a class importable from the running Python;
3. ``path/to/file.py:Class``: a class in a Python file (relative to the working folder);
4. an installed plug-in: an entry point in the group ``fakebench.detectors`` of any distribution,
   e.g. in its pyproject.toml::

       [project.entry-points."fakebench.detectors"]
       spectrum = "fakebench_spectrum.detector:SpectrumDetector"

The class must subclass ``fakebench.detect.Detector``. A plug-in that cannot be loaded (import
error, not a Detector subclass, a name already taken) is one ``PluginError`` line naming the
plug-in and its distribution; it is reported by ``fakebench detect list`` and never stops the
built-in detectors from loading.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakebench.errors import CheckpointError, ConfigError, PluginError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "fakebench.detectors"


@dataclass(frozen=True)
class Entry:
    """A detector class and where it came from."""

    name: str  # what the tables call it by default
    cls: type
    origin: str  # "built-in", "entry point of <dist> <version>", "module <pkg.mod:Class>", "file <path:Class>"


@dataclass(frozen=True)
class Broken:
    """A plug-in that could not be loaded, and why (one line)."""

    name: str
    origin: str
    error: str

    def line(self) -> str:
        return f"plug-in detector {self.name!r} ({self.origin}): {self.error}"


# -- resolution -----------------------------------------------------------------------------------
def resolve(name: str) -> Entry:
    """The detector class a name stands for (see the module docstring); unknown names list the known ones."""
    from fakebench.detect import load_detectors
    from fakebench.detect.base import DETECTORS

    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"expected a detector name (see `fakebench detect list`) or pkg.module:Class, got {name!r}")
    load_detectors()
    if name in DETECTORS:
        return Entry(name, DETECTORS.get(name), "built-in")
    if ":" in name:
        return _from_path(name)
    plugins, broken = _entry_points(only=name)  # imports this plug-in only, not every installed one
    if name in plugins:
        return plugins[name]
    for b in broken:
        raise PluginError(b.line())
    known = DETECTORS.names() + sorted(n for n in _declared() if n not in DETECTORS)
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise PluginError(f"unknown detector {name!r}{hint}; known: {', '.join(known)}; or give pkg.module:Class or "
                      "path/to/file.py:Class")


def available() -> tuple[list[Entry], list[Broken]]:
    """Every detector that loads (built-ins first, then plug-ins by name), and the plug-ins that do not."""
    from fakebench.detect import load_detectors
    from fakebench.detect.base import DETECTORS

    load_detectors()
    entries = [Entry(n, DETECTORS.get(n), "built-in") for n in DETECTORS.names()]
    plugins, broken = _entry_points()
    return entries + [plugins[n] for n in sorted(plugins)], broken


def _declared() -> dict[str, list]:
    """The entry points of the group by name (read from the installed metadata, nothing imported)."""
    from importlib.metadata import entry_points

    found: dict[str, list] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        same = found.setdefault(ep.name, [])
        if all(other.value != ep.value for other in same):  # one distribution seen twice on the path is one plug-in
            same.append(ep)
    return found


def _entry_points(only: str | None = None) -> tuple[dict[str, Entry], list[Broken]]:
    """The installed plug-ins by name (only the one named ``only``, when given), loaded, and those that failed."""
    from fakebench.detect.base import DETECTORS

    plugins: dict[str, Entry] = {}
    broken: list[Broken] = []
    for name, eps in sorted(_declared().items()):
        if only is not None and name != only:
            continue
        origins = [_ep_origin(ep) for ep in eps]
        if name in DETECTORS:
            broken += [Broken(name, o, f"the name is taken by the built-in detector {name!r}; rename the entry point")
                       for o in origins]
            continue
        if len(eps) > 1:
            broken += [Broken(name, o, f"{len(eps)} distributions declare this name ({'; '.join(origins)}); "
                                       "uninstall or rename one") for o in origins]
            continue
        ep = eps[0]
        try:
            cls = _checked(_load_entry_point(ep), ep.value)
        except PluginError as err:
            broken.append(Broken(name, origins[0], str(err)))
            continue
        plugins[name] = Entry(name, cls, origins[0])
    for b in broken:
        log.debug("%s", b.line())
    return plugins, broken


_LOADED: dict[str, Any] = {}


def _load_entry_point(ep):
    if ep.value not in _LOADED:
        try:
            _LOADED[ep.value] = ep.load()
        except Exception as err:  # noqa: BLE001  (a plug-in's import can raise anything)
            raise PluginError(f"cannot import {ep.value}: {type(err).__name__}: {_first_line(err)}") from err
    return _LOADED[ep.value]


def _ep_origin(ep) -> str:
    dist = getattr(ep, "dist", None)
    where = f"{dist.metadata['Name']} {dist.version}" if dist is not None else "an unknown distribution"
    return f"entry point {ep.name} = {ep.value}, distribution {where}"


def _from_path(spec: str) -> Entry:
    """``pkg.module:Class`` or ``path/to/file.py:Class``."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr.isidentifier():
        raise PluginError(f"detector {spec!r}: expected pkg.module:Class or path/to/file.py:Class")
    if target.endswith(".py") or os.sep in target or "/" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise PluginError(f"detector {spec!r}: no such file {path}")
        module = _import_file(path, spec)
        origin = f"file {path}:{attr}"
    else:
        try:
            module = importlib.import_module(target)
        except Exception as err:  # noqa: BLE001  (a plug-in's import can raise anything)
            raise PluginError(f"detector {spec!r}: cannot import {target}: {type(err).__name__}: {_first_line(err)}") from err
        origin = f"module {spec}"
    if not hasattr(module, attr):
        raise PluginError(f"detector {spec!r}: {target} has no attribute {attr!r}")
    cls = _checked(getattr(module, attr), spec)
    return Entry(getattr(cls, "name", "") or attr, cls, origin)


def _import_file(path: Path, spec: str):
    path = path.resolve()
    module_name = f"fakebench_plugin_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise PluginError(f"detector {spec!r}: {path} is not a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up by name
    try:
        loader_spec.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001  (a plug-in's import can raise anything)
        del sys.modules[module_name]
        raise PluginError(f"detector {spec!r}: {path} fails to import: {type(err).__name__}: {_first_line(err)}") from err
    return module


def _checked(obj, where: str) -> type:
    from fakebench.detect.base import Detector

    if not (isinstance(obj, type) and issubclass(obj, Detector)):
        kind = obj.__name__ if isinstance(obj, type) else type(obj).__name__
        raise PluginError(f"{where} is {'class ' if isinstance(obj, type) else 'a '}{kind}, not a subclass of "
                          "fakebench.detect.Detector")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise PluginError(f"{where}: class {obj.__name__} does not implement {missing}")
    return obj


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


def needs_fakes_message(name: str) -> str:
    """What to say when a detector that learns real vs fake is given no fakes."""
    from fakebench.detect.base import DETECTORS

    alone = [n for n in DETECTORS.names() if DETECTORS.get(n).trains_on == "real"]
    return (f"detector {name!r} learns real vs fake, so it needs fake faces (--fake PATH...: generated videos or a "
            f"data set's fakes); the {' and '.join(alone) or 'reals-only'} detector trains on reals alone")


# -- configs and weights ----------------------------------------------------------------------------
def make_config(entry: Entry, config: Any = None, where: str | None = None):
    """The detector's config object from ``None`` (its default), an instance, or a mapping of options
    (unknown options and wrong types are refused, naming the detector)."""
    from fakebench.config import from_dict

    config_class = getattr(entry.cls, "config_class", None)
    if config is None or (isinstance(config, dict) and not config and config_class is None):
        return None
    where = where or f"detector {entry.name} config"
    if config_class is None:
        raise ConfigError(f"{where}: detector {entry.name} takes no config; drop `config:`")
    if isinstance(config, config_class):
        return config
    if isinstance(config, dict):
        return from_dict(config_class, config, where=where)
    raise ConfigError(f"{where}: expected a mapping of options or a {config_class.__name__}, got {type(config).__name__}")


def weights_file(path: str | os.PathLike) -> Path:
    """The weights file a path names: the file itself, or the best.pt in a training folder."""
    path = Path(path).expanduser()
    if path.is_dir():
        if (path / "best.pt").is_file():
            return path / "best.pt"
        raise CheckpointError(f"{path}: a folder without best.pt; pass the weights file, or the --out folder of "
                              "`fakebench detect train`")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such weights file; pass the file written by `fakebench detect train` (or "
                              "its --out folder), or a published checkpoint")
    return path


# -- the factory ------------------------------------------------------------------------------------
def create(detector: str, weights: str | os.PathLike | None = None, config: Any = None, *, device: str = "auto",
           seed: int = 0, **options):
    """A ready detector: ``detector`` is a name or a path (see the module docstring); ``weights`` a
    file or training folder (its own config travels with it); else ``config`` (a mapping or the
    detector's config object) and ``seed``. ``options`` go to the constructor (e.g. ``init_weights``)."""
    entry = resolve(detector)
    cls = entry.cls
    if weights is not None:
        if config:
            raise ConfigError(f"detector {entry.name}: give weights or config, not both (the weights carry their config)")
        return _call(entry, cls.load, weights_file(weights), device=device)
    return _call(entry, cls, config=make_config(entry, config), device=device, seed=seed, **options)


def warn_if_untrained(detector, weights, label: str, hint: str) -> None:
    """Say once that a detector needing trained weights scores without them (``hint``: how to pass them)."""
    if weights is None and getattr(detector, "needs_weights", False):
        log.warning("detector %s has no trained weights: its scores are those of an untrained network (%s)", label, hint)


def _call(entry: Entry, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except TypeError as err:
        if entry.origin == "built-in":
            raise
        raise PluginError(f"detector {entry.name} ({entry.origin}): {fn.__name__ if hasattr(fn, '__name__') else fn} "
                          f"does not take {', '.join(kwargs)} ({_first_line(err)}); accept them as keywords like "
                          "fakebench.detect.Detector does") from err
