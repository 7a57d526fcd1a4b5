"""The adversarial term of the GAN variant of the classic swap (faceswap-GAN's patch discriminator).

An autoencoder trained on L1/SSIM draws the average of what a face could look like, which is blur.
A small discriminator per identity, looking at overlapping patches (PatchGAN: each output logit sees
a ~22 px window of the 64 px face), learns to tell the decoder's faces from real ones; the decoder
is pushed to make patches it cannot tell apart, i.e. to put texture back. Least-squares GAN loss
(Mao et al. 2017), the form faceswap-GAN trains with; the term starts after a warm-up fraction of the
budget so the reconstruction has settled first.

    faces float (B,3,S,S) in [0,1] ─► PatchDiscriminator ─► logits (B,1,S/8,S/8)
"""

from __future__ import annotations

import torch
import torch.nn as nn


class PatchDiscriminator(nn.Module):
    """Three stride-2 4x4 convolutions (width, 2 width, 4 width) with LeakyReLU(0.2), then a 3x3 conv to one logit map."""

    def __init__(self, width: int = 32):
        super().__init__()
        layers, c_in = [], 3
        for k in range(3):
            c_out = width * 2**k
            layers += [nn.Conv2d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        layers.append(nn.Conv2d(c_in, 1, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 2 - 1)


class Discriminators(nn.Module):
    """One patch discriminator per identity (faceswap-GAN's netDA / netDB)."""

    def __init__(self, identities: tuple[str, ...], width: int = 32):
        super().__init__()
        self.nets = nn.ModuleDict({name: PatchDiscriminator(width) for name in identities})

    def discriminator_loss(self, name: str, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        """LSGAN: real patches towards 1, the decoder's (detached) towards 0."""
        net = self.nets[name]
        return 0.5 * ((net(real) - 1).pow(2).mean() + net(fake.detach()).pow(2).mean())

    def generator_loss(self, name: str, fake: torch.Tensor) -> torch.Tensor:
        """LSGAN: the decoder's patches towards 1 (the discriminator's weights get no gradient from it)."""
        return (self.nets[name](fake) - 1).pow(2).mean()
