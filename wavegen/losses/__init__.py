"""Training objectives: adversarial losses (``gan``) and spectral reconstruction losses."""

from wavegen.losses.gan import (
    LOSSES,
    discriminator_loss,
    feature_matching_loss,
    generator_loss,
    gradient_penalty,
)
from wavegen.losses.spectral import (
    log_mel_l1,
    mel_filterbank,
    multi_resolution_stft_loss,
    stft_magnitude,
)

__all__ = [
    "LOSSES",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_loss",
    "gradient_penalty",
    "log_mel_l1",
    "mel_filterbank",
    "multi_resolution_stft_loss",
    "stft_magnitude",
]
