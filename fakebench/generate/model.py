"""The face-swap autoencoder: ONE encoder shared by every identity, ONE decoder per identity.

The shape is faceswap's "Original" model (plugins/train/model/original.py), itself the 2017
deepfakes code: strided 5x5 convolutions down to 4x4, a dense bottleneck, a dense layer back to a
4x4 map, then pixel-shuffle upscaling. The encoder is shared, so it must describe any face in terms
both decoders understand (pose, expression, lighting); each decoder learns to draw that description
as its own person. Swapping is: encode a face of A, decode with B's decoder.

    x (B,3,S,S) in [0,1] ─► Encoder ─► (B,4w,8,8) ─► Decoder[name] ─► (B,3,S,S) in [0,1]

At ``width=128, latent=1024, size=64`` this is the original model (82 M parameters); the CPU default
is half that width (20.5 M), which DESIGN.md measured as the largest that learns pose in ~10 min on
2 cores. ``size=128`` adds one down- and one up-sampling stage.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn as nn

from fakebench.errors import ConfigError

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class ModelConfig:
    """Everything that changes the architecture; stored in every checkpoint and re-checked on load."""

    size: int = 64  # input and output side in pixels: 64 or 128
    width: int = 64  # channels of the first conv; the original model uses 128 (CPU default: half)
    latent: int = 512  # bottleneck size; the original uses 1024 (CPU default: half)
    identities: tuple[str, ...] = ("a", "b")  # one decoder per name

    def __post_init__(self):
        if self.size not in (64, 128):
            raise ConfigError(f"model size must be 64 or 128, got {self.size}")
        if self.width < 8 or self.width % 8:
            raise ConfigError(f"model width must be a multiple of 8 and at least 8, got {self.width}")
        if self.latent < 8:
            raise ConfigError(f"model latent must be at least 8, got {self.latent}")
        if len(self.identities) < 2 or len(set(self.identities)) != len(self.identities):
            raise ConfigError(f"expected at least 2 distinct identity names, got {list(self.identities)}")
        for name in self.identities:
            if not _NAME.match(name):
                raise ConfigError(f"identity name {name!r}: use lower-case letters, digits and _ (e.g. 'a', 'franck')")

    @property
    def n_down(self) -> int:
        """Stride-2 convolutions from ``size`` down to 4x4."""
        return int(math.log2(self.size // 4))


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """5x5 stride-2 convolution + LeakyReLU(0.1): halves the side."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 5, stride=2, padding=2), nn.LeakyReLU(0.1))


class Upscale(nn.Module):
    """3x3 convolution to 4x the channels + LeakyReLU(0.1) + pixel shuffle: doubles the side.

    The convolution is ICNR-initialised (each of the 4 sub-pixel kernels starts equal), which
    avoids the checkerboard pattern a freshly initialised pixel shuffle draws.
    """

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out * 4, 3, padding=1)
        self.act = nn.LeakyReLU(0.1)
        self.shuffle = nn.PixelShuffle(2)
        with torch.no_grad():
            sub = torch.empty(c_out, c_in, 3, 3, device=self.conv.weight.device)
            nn.init.kaiming_uniform_(sub, a=0.1)
            self.conv.weight.copy_(sub.repeat_interleave(4, dim=0))
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.act(self.conv(x)))


class Encoder(nn.Module):
    """Face (B,3,S,S) -> code (B,4w,8,8): convs w, 2w, 4w, 8w(, 8w) down to 4x4, dense bottleneck, up to 8x8."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        w = config.width
        chans = [3] + [w * min(2**i, 8) for i in range(config.n_down)]
        self.convs = nn.Sequential(*(conv_block(a, b) for a, b in zip(chans[:-1], chans[1:])))
        self.flat = chans[-1] * 4 * 4
        self.to_latent = nn.Linear(self.flat, config.latent)
        self.from_latent = nn.Linear(config.latent, 8 * w * 4 * 4)
        self.upscale = Upscale(8 * w, 4 * w)
        self.width = w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.convs(x).flatten(1)
        x = self.from_latent(self.to_latent(x))
        x = x.view(-1, 8 * self.width, 4, 4)
        return self.upscale(x)


class Decoder(nn.Module):
    """Code (B,4w,8,8) -> face (B,3,S,S) in [0,1]: upscales 2w, w, w/2(, w/4), then a 5x5 conv + sigmoid."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        w = config.width
        n_up = config.n_down - 1  # from 8x8 up to size
        chans = [4 * w] + [max(2 * w // 2**i, 4) for i in range(n_up)]
        self.ups = nn.Sequential(*(Upscale(a, b) for a, b in zip(chans[:-1], chans[1:])))
        self.out = nn.Conv2d(chans[-1], 3, 5, padding=2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.out(self.ups(z)))


class SwapModel(nn.Module):
    """The shared encoder and a ``ModuleDict`` of decoders keyed by identity name."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.decoders = nn.ModuleDict({name: Decoder(config) for name in config.identities})

    def forward(self, x: torch.Tensor, identity: str) -> torch.Tensor:
        """Faces ``float (B,3,S,S)`` in [0,1] drawn as ``identity``: the same person reconstructs, another swaps."""
        return self.decoders[identity](self.encoder(x))

    def forward_each(self, x: torch.Tensor, n: int) -> torch.Tensor:
        """Training pass: ``x`` holds ``n`` faces of each identity in config order; one encoder pass for all,
        then each identity's share through its own decoder. Returns the reconstructions in the same order."""
        z = self.encoder(x)
        return torch.cat([decoder(z[k * n:(k + 1) * n]) for k, decoder in enumerate(self.decoders.values())])

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
