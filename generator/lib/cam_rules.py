"""CAM combiners: how a layer's activations A and gradients G = dS/dA become one class activation map.

A *channel-weight rule* gives one weight per channel, ``w_k = rule(A, G)``, and
the map is ``ReLU(sum_k w_k A^k)``:

* **Grad-CAM** (Selvaraju et al., 2017): ``w_k`` = the spatial mean of ``G^k``;
* **Grad-CAM++** (Chattopadhay et al., 2018): the positive gradients weighted by
  alpha = G² / (2G² + sum(A^k)·G³).

An *element-wise rule* combines A and G position by position and needs no
channel weights:

* **LayerCAM** (Jiang et al., 2021): ``ReLU(sum_k ReLU(G^k) ⊙ A^k)``.

Every rule takes one image's C x h x w activations and gradients.  A new
variant is one function and one :class:`CamRule` in :data:`CAM_RULES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch


def grad_cam_weights(activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM: alpha_k = (1/Z) sum_ij dS/dA^k_ij, for C x h x w activations and gradients."""
    return grads.mean(dim=(1, 2))


def grad_cam_plus_plus_weights(activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """Grad-CAM++: w_k = sum_ij ReLU(g_ij) * alpha_ij, alpha = g² / (2g² + sum(A^k)·g³) (0 where g = 0)."""
    g2 = grads * grads
    a = g2 / (2 * g2 + activations.sum(dim=(1, 2))[:, None, None] * g2 * grads + 1e-6)
    a = torch.where(grads != 0, a, torch.zeros((), dtype=a.dtype, device=a.device))
    return (torch.relu(grads) * a).sum(dim=(1, 2))


def layer_cam_map(activations: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """LayerCAM: ReLU(sum_k ReLU(G^k) ⊙ A^k), h x w (each position weighted by its own positive gradient)."""
    return torch.relu((torch.relu(grads) * activations).sum(dim=0))


@dataclass(frozen=True)
class CamRule:
    """One CAM variant: a channel-weight rule (``fn`` -> C weights) or an element-wise one (``fn`` -> h x w)."""

    name: str
    kind: Literal["channel", "element"]
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

    def combine(self, activations: torch.Tensor, grads: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(the raw h x w map, not yet upsampled or scaled; the channel weights, or None for an element-wise rule)."""
        if self.kind == "channel":
            weights = self.fn(activations, grads)
            return torch.relu(torch.einsum("k,khw->hw", weights, activations)), weights
        return self.fn(activations, grads), None


CAM_RULES: dict[str, CamRule] = {
    r.name: r
    for r in (
        CamRule("grad_cam", "channel", grad_cam_weights),
        CamRule("grad_cam_plus_plus", "channel", grad_cam_plus_plus_weights),
        CamRule("layer_cam", "element", layer_cam_map),
    )
}
"""Every CAM variant by name."""


def cam_rule(name: str) -> CamRule:
    if name not in CAM_RULES:
        raise ValueError(f"unknown CAM variant {name!r}; valid: {', '.join(CAM_RULES)}")
    return CAM_RULES[name]
