"""Layer-wise relevance propagation (Bach et al., 2015) with the VGG composite of Montavon et al. (2019).

The class score S_c is the relevance at the output; each layer hands its relevance down to its inputs in
proportion to their contributions, under a rule chosen by depth (:class:`Composite`):

* **z^B** (``zbox``) at the first conv, whose inputs are pixels bounded by ``low`` and ``high``;
* **γ** (``gamma``) on the lower convs (blocks 1-3 of VGG16): positive weights count ``1 + γ`` times;
* **ε** (``epsilon``) on the upper convs (blocks 4-5): a stabiliser absorbs weak, contradictory evidence;
* **0** (LRP-0, ``epsilon`` with only the 1e-6 stabiliser) on the dense layers.

ReLUs pass relevance through, max-pools route it to the winning input, the average pool spreads it by
contribution.  Each rule is one backward step ``R_in = Σ_i input_i ⊙ dz_i/d input · R / stab(z)`` over
modified copies of the layer (the same arithmetic as zennit's ``Epsilon``, ``Gamma``, ``ZBox`` and ``Norm``
rules, which the tests use as the oracle).  The relevances at the input sum to the class score, up to what
the biases and stabilisers absorb.

Supported networks: those built as ``features`` → ``avgpool`` → flatten → ``classifier`` from convs,
ReLUs, pools, dropout and linear layers (VGG, AlexNet).  Others get a one-line error.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from generator.lib.integrated import _batch, _targets
from generator.lib.layers import device_of, prepared
from generator.lib.optvis.param import IMAGENET_MEAN, IMAGENET_STD

STABILISER = 1e-6


@dataclass(frozen=True)
class Composite:
    """Which rule each layer gets: γ on the first ``lower`` convs after the first (None: VGG16's blocks 1-3,
    else 55 % of the convs), ε on the convs above, LRP-0 (``dense_epsilon``) on the linear layers."""

    gamma: float = 0.25
    epsilon: float = 0.25
    dense_epsilon: float = STABILISER
    lower: int | None = None


VGG_COMPOSITE = Composite()


def _stab(z: torch.Tensor, eps: float) -> torch.Tensor:
    """z + eps * sign(z), with sign(0) = +1 (zennit's stabiliser)."""
    return z + eps * ((z == 0).to(z.dtype) + z.sign())


def _pull(fn, inputs: list[torch.Tensor], grads: list[torch.Tensor]) -> torch.Tensor:
    """Σ_i inputs_i ⊙ d fn_i(inputs_i)/d inputs_i · grads_i: the relevance one rule hands down."""
    total = 0
    for i, (a, g) in enumerate(zip(inputs, grads)):
        a = a.detach().requires_grad_(True)
        with torch.enable_grad():
            (c,) = torch.autograd.grad(fn(i, a), a, grad_outputs=g)
        total = total + a.detach() * c
    return total


def _linear_op(module: nn.Module):
    if isinstance(module, nn.Conv2d):
        return lambda a, w, b: module._conv_forward(a, w, b)
    return lambda a, w, b: F.linear(a, w, b)


def _epsilon(module: nn.Module, a: torch.Tensor, r: torch.Tensor, eps: float) -> torch.Tensor:
    op = _linear_op(module)
    z = op(a, module.weight, module.bias)
    return _pull(lambda i, x: op(x, module.weight, module.bias), [a], [r / _stab(z, eps)])


def _gamma(module: nn.Module, a: torch.Tensor, r: torch.Tensor, gamma: float) -> torch.Tensor:
    """The generalised γ rule: positive and negative outputs each take the contributions that share their
    sign, with those weights made ``1 + γ`` times stronger."""
    op = _linear_op(module)
    w, b = module.weight, module.bias
    b = torch.zeros_like(w[:, 0].flatten()) if b is None else b
    wp, wn = w + gamma * w.clamp(min=0), w + gamma * w.clamp(max=0)
    bp, bn = b + gamma * b.clamp(min=0), b + gamma * b.clamp(max=0)
    ap, an = a.clamp(min=0), a.clamp(max=0)
    terms = [(ap, wp, bp), (an, wn, None), (ap, wn, bn), (an, wp, None)]
    with torch.no_grad():
        z = op(a, w, module.bias)
        outs = [op(x, ww, bb) for x, ww, bb in terms]
        pos = (z > 0).to(z.dtype) * r / _stab(outs[0] + outs[1], STABILISER)
        neg = (z < 0).to(z.dtype) * r / _stab(outs[2] + outs[3], STABILISER)
    return _pull(lambda i, x: op(x, terms[i][1], terms[i][2]), [t[0] for t in terms], [pos, pos, neg, neg])


def _zbox(module: nn.Conv2d, a: torch.Tensor, r: torch.Tensor, low, high) -> torch.Tensor:
    """z^B: the pixels' relevance bounded by the lowest and highest values they could take."""
    op = _linear_op(module)
    w, b = module.weight, module.bias
    lo, hi = low.expand_as(a).to(a), high.expand_as(a).to(a)
    bias = b if b is not None else None
    params = [(w, bias), (w.clamp(min=0), None if b is None else b.clamp(min=0)),
              (w.clamp(max=0), None if b is None else b.clamp(max=0))]  # fmt: skip
    with torch.no_grad():
        z = op(a, *params[0]) - op(lo, *params[1]) - op(hi, *params[2])
        s = r / _stab(z, STABILISER)
    parts = [_pull(lambda i, x, p=p: op(x, *p), [v], [s]) for p, v in zip(params, (a, lo, hi))]
    return parts[0] - parts[1] - parts[2]


def _norm(module: nn.Module, a: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Pooling by contribution (the average pool): R_in = a ⊙ dpool/da · R / pool(a)."""
    with torch.no_grad():
        z = module(a)
    return _pull(lambda i, x: module(x), [a], [r / _stab(z, STABILISER)])


def _gradient(module: nn.Module, a: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Max-pool, flatten, dropout: relevance follows the gradient (to the winning input of a max-pool)."""
    x = a.detach().requires_grad_(True)
    with torch.enable_grad():
        (g,) = torch.autograd.grad(module(x), x, grad_outputs=r)
    return g


def _chain(model: nn.Module) -> list[nn.Module]:
    parts = [getattr(model, n, None) for n in ("features", "avgpool", "classifier")]
    if any(p is None for p in parts) or not isinstance(parts[0], nn.Sequential):
        raise ValueError(
            f"lrp supports networks built as features -> avgpool -> classifier (VGG, AlexNet); "
            f"{type(model).__name__} is not one: use zennit's composites for other architectures"
        )
    layers = [*parts[0], parts[1], nn.Flatten(), *parts[2]]
    allowed = (nn.Conv2d, nn.Linear, nn.ReLU, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Dropout, nn.Flatten)
    odd = [type(m).__name__ for m in layers if not isinstance(m, allowed) and type(m).__name__ != "AdaptiveAvgPool2d"]
    if odd:
        raise ValueError(f"lrp has no rule for {', '.join(sorted(set(odd)))} layers; supported: {len(allowed)} kinds")
    return layers


def _rule_of(layers: list[nn.Module], composite: Composite):
    convs = [i for i, m in enumerate(layers) if isinstance(m, nn.Conv2d)]
    lower = composite.lower if composite.lower is not None else (7 if len(convs) == 13 else round(0.55 * len(convs)))
    names = {}
    for k, i in enumerate(convs):
        names[i] = "zbox" if k == 0 else ("gamma" if k < lower else "epsilon")
    for i, m in enumerate(layers):
        if isinstance(m, nn.Linear):
            names[i] = "dense"
    return names


def lrp(
    model: nn.Module,
    x: torch.Tensor,
    target,
    *,
    composite: Composite = VGG_COMPOSITE,
    low: torch.Tensor | None = None,
    high: torch.Tensor | None = None,
) -> torch.Tensor:
    """The relevance of each input value for class ``target``: signed 3 x H x W (N x 3 x H x W for a batch),
    on the CPU.  ``low`` / ``high``: the pixel bounds for z^B in the model's input space (default: [0, 1]
    RGB under ImageNet normalisation)."""
    x = _batch(x)
    layers = _chain(model)
    rules = _rule_of(layers, composite)
    device = device_of(model)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    low = (0 - mean) / std if low is None else torch.as_tensor(low)
    high = (1 - mean) / std if high is None else torch.as_tensor(high)
    maps = []
    with torch.no_grad(), prepared(model):
        for xi, t in zip(x, _targets(target, x.shape[0])):
            acts = [xi[None].detach().to(device)]
            for m in layers:
                acts.append(m(acts[-1]))
            r = torch.zeros_like(acts[-1])
            r[0, t] = acts[-1][0, t]
            for i in reversed(range(len(layers))):
                m, a = layers[i], acts[i]
                rule = rules.get(i)
                if rule == "zbox":
                    r = _zbox(m, a, r, low.to(a), high.to(a))
                elif rule == "gamma":
                    r = _gamma(m, a, r, composite.gamma)
                elif rule == "epsilon":
                    r = _epsilon(m, a, r, composite.epsilon)
                elif rule == "dense":
                    r = _epsilon(m, a, r, composite.dense_epsilon)
                elif isinstance(m, nn.ReLU):
                    continue  # relevance passes through
                elif isinstance(m, (nn.AvgPool2d, nn.AdaptiveAvgPool2d)) or type(m).__name__ == "AdaptiveAvgPool2d":
                    r = _norm(m, a, r)
                else:
                    r = _gradient(m, a, r)
            maps.append(r[0].cpu())
    return maps[0] if len(maps) == 1 else torch.stack(maps)
