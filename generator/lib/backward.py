"""Backward rules at the ReLUs: what one shared forward graph passes back to the input.

The forward pass replaces every ``nn.ReLU``'s output by :class:`SwitchableReLU`,
whose backward rule is read from a shared :class:`Switch` when the backward
pass runs, so that several backward passes over one graph can use different
rules:

* ``normal``: the incoming gradient where the forward output was positive
  (exactly autograd's ReLU rule): the true gradient;
* ``guided`` (Springenberg et al., 2014): additionally drop negative incoming
  gradients;
* ``deconvnet`` (Zeiler & Fergus, 2014): drop negative incoming gradients and
  ignore the forward mask.
"""

from __future__ import annotations

import torch
from torch import nn

RULES = ("normal", "guided", "deconvnet")


class Switch:
    """Shared by every switchable ReLU of one pass: which backward rule they use."""

    def __init__(self, rule: str = "normal") -> None:
        self.rule = rule

    def use(self, rule: str) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown backward rule {rule!r}; valid: {', '.join(RULES)}")
        self.rule = rule


class SwitchableReLU(torch.autograd.Function):
    """ReLU whose backward rule (:data:`RULES`) is chosen when the backward pass runs."""

    @staticmethod
    def forward(ctx, x, switch):
        out = torch.relu(x)
        ctx.save_for_backward(out)
        ctx.switch = switch
        return out

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        rule = ctx.switch.rule
        if rule == "deconvnet":
            keep = grad > 0
        else:
            keep = out > 0
            if rule == "guided":
                keep = keep & (grad > 0)
        return torch.where(keep, grad, torch.zeros((), dtype=grad.dtype, device=grad.device)), None


def install(model: nn.Module, switch: Switch) -> list:
    """Make every ``nn.ReLU`` of ``model`` switchable (forward hooks); returns the handles to remove."""
    return [
        m.register_forward_hook(lambda mod, inp, out: SwitchableReLU.apply(inp[0], switch))
        for m in model.modules()
        if isinstance(m, nn.ReLU)
    ]
