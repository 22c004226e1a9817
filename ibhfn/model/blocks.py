"""The convolutional building blocks both networks are made of (plain convs and ReLU, no normalisation).

No normalisation layers: the networks behave the same in training and inference, export to
plain Conv/Relu/Resize graphs and quantize to INT8 without folding tricks.
"""

from __future__ import annotations

from torch import Tensor, nn


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    """A 3x3 convolution with zero padding that keeps the size (or halves it at stride 2)."""
    return nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)


def conv_relu(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """A 3x3 convolution followed by ReLU."""
    return nn.Sequential(conv3x3(in_channels, out_channels, stride), nn.ReLU(inplace=True))


class ResidualBlock(nn.Module):
    """x + scale * conv(relu(conv(x))), the EDSR / DSen2-CR residual block."""

    def __init__(self, channels: int, scale: float = 1.0) -> None:
        super().__init__()
        self.body = nn.Sequential(conv3x3(channels, channels), nn.ReLU(inplace=True), conv3x3(channels, channels))
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        """Add the scaled residual branch to the input."""
        return x + self.scale * self.body(x)


def residual_stack(channels: int, count: int, scale: float = 1.0) -> nn.Sequential:
    """`count` residual blocks of `channels` maps (an identity when `count` is 0)."""
    return nn.Sequential(*(ResidualBlock(channels, scale) for _ in range(count)))


class UpsampleConv(nn.Module):
    """Nearest-neighbour x2 upsampling then a 3x3 conv + ReLU (no checkerboard, exports as Resize)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv = conv_relu(in_channels, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Double the height and width."""
        return self.conv(self.up(x))
