"""The one optimisation loop that activation maximisation, class models and inversion configure.

Each method supplies three things:

* an **objective**: ``objective(step) -> (value, record)``, where ``value`` is
  one number per image (a tensor on the graph) and ``record`` what the
  history keeps for that step (detached, left on the device: the history
  is copied to the CPU once, at the end, so a GPU never waits for the host);
* an **update rule** (:class:`Adam` or :class:`NormalisedAscent`), which
  moves the variables so that ``value`` rises (or, with ``maximise=False``,
  falls);
* optionally an ``after_step(step)`` hook that edits the variables in place
  (a blur every few steps, clipping to the valid range).

The variables themselves come from a parameterisation (:mod:`.param`) or are
a plain leaf tensor; the transforms (:mod:`.transforms`) are applied inside
the objective, drawing from the caller's ``torch.Generator``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


class Adam:
    """Adam on ``variables``; with ``lr_end`` the rate falls geometrically from ``lr`` to it over ``steps``."""

    def __init__(
        self,
        variables: Sequence[torch.Tensor],
        lr: float,
        *,
        maximise: bool = True,
        lr_end: float | None = None,
        steps: int = 1,
    ):
        self.opt = torch.optim.Adam(list(variables), lr=lr)
        self.maximise = maximise
        self.sched = None
        if lr_end is not None:
            gamma = (lr_end / lr) ** (1 / max(1, steps - 1))
            self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma)

    def step(self, value: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        (-value.sum() if self.maximise else value.sum()).backward()
        self.opt.step()
        if self.sched is not None:
            self.sched.step()


class NormalisedAscent:
    """Gradient ascent on one batched leaf tensor: each image moves by ``lr`` times its RMS-normalised gradient."""

    def __init__(self, variable: torch.Tensor, lr: float):
        self.variable = variable
        self.lr = lr

    def step(self, value: torch.Tensor) -> None:
        (g,) = torch.autograd.grad(value.sum(), [self.variable])
        rms = g.pow(2).flatten(1).mean(1).sqrt().clamp_min(1e-12).view(-1, 1, 1, 1)
        with torch.no_grad():
            self.variable.add_(self.lr * g / rms)


def optimise(
    objective: Callable[[int], tuple[torch.Tensor, torch.Tensor]],
    rule,
    steps: int,
    *,
    after_step: Callable[[int], None] | None = None,
    record_every: int = 1,
) -> torch.Tensor:
    """Run ``steps`` updates; returns the stacked records (every ``record_every`` steps and the last)."""
    history = []
    for step in range(steps):
        value, record = objective(step)
        rule.step(value)
        if after_step is not None:
            after_step(step)
        if step % record_every == 0 or step == steps - 1:
            history.append(record)
    return torch.stack(history).cpu()  # one copy at the end: no device sync per step
