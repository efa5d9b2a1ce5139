"""Training objectives: GAN losses and penalties (``gan``), their sums over sub-discriminators
(``adversarial``) and spectral reconstruction losses (``spectral``)."""

from wavegen.losses.gan import (
    LOSSES,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    gradient_penalty,
)
from wavegen.losses.spectral import log_mel_l1, multi_resolution_stft_loss

__all__ = [
    "LOSSES",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_loss",
    "gradient_penalty",
    "log_mel_l1",
    "multi_resolution_stft_loss",
]
