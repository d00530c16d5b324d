"""What every optimisation shares: the result type, the objective and the numeric context."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from generator.lib.determinism import pick_channels


@dataclass
class OptResult:
    """What an optimisation returns.

    ``images``: Bx3xHxW in [0, 1] (detached, on the CPU); ``history``: the
    objective (for inversion: the loss) of every image at every step, steps x B;
    ``final``: the objective of the final, untransformed images; ``extra``:
    method-specific numbers.
    """

    images: torch.Tensor
    history: torch.Tensor
    final: torch.Tensor
    extra: dict = field(default_factory=dict)


def _channel_objective(out: torch.Tensor, channels: torch.Tensor, rectify: bool) -> torch.Tensor:
    if rectify:
        out = F.relu(out)
    picked = pick_channels(out, channels)
    return picked.flatten(1).mean(1) if picked.ndim > 1 else picked


def flushing_denormals() -> bool:
    """Whether the CPU treats denormal floats as zero now (torch has a setter but no getter: probe it)."""
    return float(torch.tensor([1e-39], dtype=torch.float32) * 1.0) == 0.0


@contextlib.contextmanager
def flush_denormals():
    """Treat denormal floats as zero while optimising; the previous setting is restored afterwards.

    Gradients of normalised losses reach the 1e-38 range deep in the
    backward pass; on a CPU every denormal operand costs a microcode assist,
    which made inversion 3x slower here.
    """
    before = flushing_denormals()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


def _autocast(enabled: bool, device: torch.device):
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
