"""Small parts shared by the decoders: a tanh MLP, and no-op training hooks."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class NoBufferHooks:
    """``reuse_buffers`` and ``compute_dtype`` that do nothing.

    The training loop enters both around training for the coordinate decoder (recycled
    buffers, mixed precision of its pixel MLP); decoders whose work is a small share of a
    step train as they are.
    """

    @contextmanager
    def reuse_buffers(self) -> Iterator[None]:
        yield

    @contextmanager
    def compute_dtype(self, dtype: torch.dtype | None) -> Iterator[None]:
        yield


def tanh_mlp(n_in: int, hidden: tuple[int, ...]) -> tuple[nn.Sequential, int]:
    """Linear + tanh layers of the given widths, and the width of the last one."""
    layers: list[nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [nn.Linear(width, h), nn.Tanh()]
        width = h
    return nn.Sequential(*layers), width
