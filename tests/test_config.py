"""Config files: unknown keys and wrong types are errors, with the closest known key named."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from fakebench.config import from_dict, load_config, save_config, to_dict
from fakebench.errors import ConfigError


@dataclass(frozen=True)
class Inner:
    size: int = 64
    blend: Literal["alpha", "poisson"] = "alpha"


@dataclass(frozen=True)
class Outer:
    steps: int = 100
    lr: float = 1e-4
    name: str = "run"
    sizes: tuple[int, ...] = (64, 128)
    weights: str | None = None
    inner: Inner = field(default_factory=Inner)


def test_round_trip_through_yaml(tmp_path):
    config = Outer(steps=5, lr=1, sizes=(32,), inner=Inner(size=128, blend="poisson"))
    save_config(config, tmp_path / "c.yaml")
    loaded = load_config(Outer, tmp_path / "c.yaml")
    assert loaded == config and isinstance(loaded.lr, float) and to_dict(loaded)["sizes"] == [32]


def test_unknown_key_names_the_closest():
    with pytest.raises(ConfigError, match=r"config.inner: unknown option 'sise' \(did you mean 'size'\?\)"):
        from_dict(Outer, {"inner": {"sise": 3}})


@pytest.mark.parametrize("data,message", [
    ({"steps": "10"}, "config.steps: expected an integer, got '10'"),
    ({"steps": True}, "config.steps: expected an integer, got True"),
    ({"lr": "fast"}, "config.lr: expected a number"),
    ({"sizes": 64}, "config.sizes: expected a list"),
    ({"sizes": [64, "x"]}, r"config.sizes\[1\]: expected an integer"),
    ({"inner": {"blend": "seamless"}}, "config.inner.blend: expected one of 'alpha', 'poisson'"),
    ({"weights": 3}, "config.weights: expected a string"),
])
def test_wrong_types_are_refused(data, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(Outer, data)


def test_bad_files(tmp_path):
    (tmp_path / "bad.yaml").write_text("steps: [unclosed\n")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(Outer, tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(Outer, tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="expected a mapping of options, got list"):
        load_config(Outer, tmp_path / "list.yaml")
