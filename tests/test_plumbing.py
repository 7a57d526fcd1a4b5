"""Registry, atomic files, content keys, seeding and device choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fakebench.errors import FakebenchError
from fakebench.files import atomic_path, content_key, stable_hash
from fakebench.registry import Registry
from fakebench.runtime import env_info, resolve_device, seed_everything


def test_registry_lists_known_names_and_the_closest():
    reg: Registry[type] = Registry("detector")

    @reg.register("blink")
    class Blink:
        pass

    reg.register("artifacts")(object)
    assert reg.get("blink") is Blink and reg.names() == ["artifacts", "blink"] and "blink" in reg
    with pytest.raises(FakebenchError, match=r"unknown detector 'blinc' \(did you mean 'blink'\?\); known: artifacts, blink"):
        reg.get("blinc")
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("blink")(object)


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "result.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole" and [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_atomic_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    os.umask(mask)
    with atomic_path(tmp_path / "shared.json") as tmp:
        tmp.write_text("{}")
    assert (tmp_path / "shared.json").stat().st_mode & 0o777 == 0o666 & ~mask


def test_content_key_follows_bytes_and_is_memoised(tmp_path):
    a, b = tmp_path / "a.bin", tmp_path / "b.bin"
    a.write_bytes(b"same")
    b.write_bytes(b"same")
    assert content_key(a, tmp_path) == content_key(b, tmp_path)
    assert (tmp_path / "hashes.json").exists()
    b.write_bytes(b"other")
    assert content_key(a, tmp_path) != content_key(b, tmp_path)
    assert stable_hash({"x": 1, "y": 2}) == stable_hash({"y": 2, "x": 1})


def test_seed_everything_repeats_numpy_and_torch():
    rng = seed_everything(7)
    first = (rng.random(3), torch.rand(3))
    rng = seed_everything(7)
    assert np.array_equal(rng.random(3), first[0]) and torch.equal(torch.rand(3), first[1])


def test_device_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda")
    if not torch.cuda.is_available():
        with pytest.raises(FakebenchError, match="torch sees no CUDA device: use --device cpu"):
            resolve_device("cuda")
    with pytest.raises(FakebenchError, match="unknown device 'tpu'"):
        resolve_device("tpu")
    info = env_info(device="cpu", seed=1)
    assert info["packages"]["torch"].startswith("2.") and info["seed"] == 1
