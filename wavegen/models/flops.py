"""Layer shape records and analytic FLOP counts (2 × multiply-accumulates) for the GAN models.

The models build their conv stacks from these records, so the parameter/FLOP description
(:func:`wavegen.models.describe`) and the layer benchmark (``tools/bench_layers.py``) read the same
shapes the networks use.

Counting convention (per example, forward pass, biases and activations not counted):

- strided conv: every output sample uses all K taps (padding taps included, as XLA counts):
  ``2·T_out·K·Cin·Cout``;
- transposed conv and nearest-upsample conv: every *input* sample meets every tap once:
  ``2·T_in·K·Cin·Cout``. This is the work of the polyphase formulation, not of the zero-stuffed /
  repeated input a naive lax implementation convolves (which is ``s`` times larger);
- dense: ``2·in·out``. 2-D layers: the same rules over both spatial axes; SpecGAN's 'nearest'
  option is counted as what it runs, a stride-1 conv at the resized (doubled) side.
"""

from __future__ import annotations

import dataclasses

KINDS = ("conv", "transpose", "upsample", "conv2d", "transpose2d")


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """One conv layer's shape. ``in_len`` is T (1-D) or the side H = W of a square input (2-D)."""

    name: str
    kind: str
    in_len: int
    in_ch: int
    out_ch: int
    kernel: int
    stride: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"ConvSpec {self.name}: kind must be one of {KINDS}, got {self.kind!r}"
            )

    @property
    def two_d(self) -> bool:
        return self.kind.endswith("2d")

    @property
    def upsamples(self) -> bool:
        return self.kind in ("transpose", "upsample", "transpose2d")

    @property
    def out_len(self) -> int:
        """Output length (or side): T·s when upsampling, ceil(T/s) otherwise ('SAME' padding)."""
        if self.upsamples:
            return self.in_len * self.stride
        return -(-self.in_len // self.stride)

    @property
    def num_params(self) -> int:
        taps = self.kernel**2 if self.two_d else self.kernel
        return taps * self.in_ch * self.out_ch + self.out_ch

    @property
    def flops(self) -> int:
        """Forward FLOPs per example (see the module docstring for the convention)."""
        positions = self.in_len if self.upsamples else self.out_len
        taps = self.kernel
        if self.two_d:
            positions, taps = positions**2, taps**2
        return 2 * positions * taps * self.in_ch * self.out_ch


def dense_flops(in_features: int, out_features: int) -> int:
    """Forward FLOPs per example of a dense layer [in] → [out]."""
    return 2 * in_features * out_features


def total_flops(convs: list[ConvSpec], dense: list[tuple[int, int]]) -> int:
    """Forward FLOPs per example of conv layers ``convs`` plus dense layers (in, out) ``dense``."""
    return sum(c.flops for c in convs) + sum(dense_flops(i, o) for i, o in dense)
