"""``torchvision.models`` stand-in: the backbones atomai imports, each raising if called."""

from __future__ import annotations


def _unavailable(name: str):
    def build(*args, **kwargs):
        raise RuntimeError(
            f"torchvision.models.{name}: torchvision here is the benchmarks' stand-in "
            "(atomai imports it for CustomBackbone only)"
        )

    build.__name__ = name
    return build


mobilenet_v2 = _unavailable("mobilenet_v2")
resnet50 = _unavailable("resnet50")
vgg16 = _unavailable("vgg16")
