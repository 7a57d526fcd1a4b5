"""The autoencoder: one encoder for every identity, one decoder each, the original's shape."""

from __future__ import annotations

import pytest
import torch

from fakebench.errors import ConfigError
from fakebench.generate.model import ModelConfig, SwapModel


@pytest.fixture
def model() -> SwapModel:
    torch.manual_seed(0)
    return SwapModel(ModelConfig(width=8, latent=16))


def _grads(module: torch.nn.Module) -> list[bool]:
    return [p.grad is not None and bool(p.grad.abs().sum() > 0) for p in module.parameters()]


def test_encoder_is_one_object_shared_by_both_identities(model):
    x = torch.rand(2, 3, 64, 64)
    used = {}
    for name in ("a", "b"):
        model.zero_grad(set_to_none=True)
        model(x, name).mean().backward()
        used[name] = {id(p) for p in model.parameters() if p.grad is not None}
        other = "b" if name == "a" else "a"
        assert all(_grads(model.encoder)), "every encoder parameter learns from each identity"
        assert all(_grads(model.decoders[name])) and not any(_grads(model.decoders[other]))
    encoder = {id(p) for p in model.encoder.parameters()}
    assert encoder <= used["a"] and encoder <= used["b"]  # the very same tensors
    dec_a = {p.data_ptr() for p in model.decoders["a"].parameters()}
    dec_b = {p.data_ptr() for p in model.decoders["b"].parameters()}
    assert dec_a.isdisjoint(dec_b)
    assert list(model.decoders) == ["a", "b"] and len(list(model.children())) == 2


def test_decoders_draw_different_faces_from_one_code(model):
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert not torch.allclose(model(x, "a"), model(x, "b"))


def test_training_pass_matches_separate_passes(model):
    x = torch.rand(6, 3, 64, 64)
    with torch.no_grad():
        both = model.forward_each(x, 3)
        assert torch.allclose(both[:3], model(x[:3], "a"), atol=1e-6)
        assert torch.allclose(both[3:], model(x[3:], "b"), atol=1e-6)


def test_the_original_shape_has_82m_parameters_and_half_width_20m():
    with torch.device("meta"):
        assert round(SwapModel(ModelConfig(width=128, latent=1024)).n_params() / 1e6, 1) == 82.1
        assert round(SwapModel(ModelConfig()).n_params() / 1e6, 1) == 20.5


@pytest.mark.parametrize("size", [64, 128])
def test_output_is_a_face_of_the_input_size_in_0_1(size):
    model = SwapModel(ModelConfig(size=size, width=8, latent=16, identities=("x", "y", "z")))
    with torch.no_grad():
        out = model(torch.rand(3, 3, size, size), "z")
    assert out.shape == (3, 3, size, size) and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("changes,match", [
    ({"size": 96}, "size must be 64 or 128, got 96"),
    ({"width": 12}, "multiple of 8"),
    ({"identities": ("a",)}, "at least 2 distinct identity names"),
    ({"identities": ("a", "a")}, "at least 2 distinct"),
    ({"identities": ("a", "Bob Smith")}, "identity name 'Bob Smith'"),
])
def test_bad_configs_are_refused(changes, match):
    with pytest.raises(ConfigError, match=match):
        ModelConfig(**changes)
