"""Reproducible runs on a GPU: the same bytes from every build on the same machine.

On a CPU every op the generator uses is deterministic already.  On CUDA,
three things are not, by default:

* **cuDNN picks algorithms by timing them** (``benchmark``) and some of its
  backward algorithms sum with atomics: :func:`configure` turns benchmarking
  off and asks for deterministic algorithms;
* **cuBLAS** needs a fixed workspace to be deterministic:
  :func:`configure` sets ``CUBLAS_WORKSPACE_CONFIG=:4096:8`` before the first
  CUDA call (unless the user set it), and then
  ``torch.use_deterministic_algorithms(True)``, which makes every other op
  either deterministic or an error;
* **two backward passes have no deterministic CUDA kernel** (PyTorch raises
  an error for them in deterministic mode), and a third is not documented as
  deterministic, so on a CUDA device in deterministic mode they are computed
  another way, with the same values:

  - ``grid_sample`` (the scale-and-rotate of activation maximisation's
    transformation robustness): :func:`bilinear_sample_border` gathers the four
    neighbours explicitly; the backward of ``gather`` is a deterministic
    scatter-add;
  - ``adaptive_avg_pool2d`` (VGG16's ``avgpool``, on the way from the class
    scores back to the pixels): :class:`AdaptiveAvgPool2d` returns its input
    when it already has the output size (224 px inputs: 7 x 7 in, 7 x 7 out,
    each average is of one value), and otherwise averages with two small
    pooling matrices (matrix products are deterministic under the fixed
    cuBLAS workspace);
  - advanced indexing of one channel per image (``out[idx, channel]``), whose
    backward is an accumulating ``index_put`` on CUDA (not in PyTorch's list of
    deterministic operations): the objectives use ``gather`` instead, which is
    (:func:`pick_channels`).

On a CPU these functions take the usual path, so CPU figures do not change.
Figures from a CPU and a GPU still differ in their last bits (other kernels,
TF32 convolutions on Ampere and later), which is why their records are
compared with a tolerance, not byte for byte (``tests/test_devices_agree.py``).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import nn

CUBLAS_WORKSPACE = ":4096:8"


def configure(device: torch.device | str) -> None:
    """Make CUDA work on ``device`` deterministic (nothing to do on a CPU).  Call before the first CUDA op."""
    if torch.device(device).type != "cuda":
        return
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True)


def deterministic_cuda(x: torch.Tensor) -> bool:
    """Whether ``x`` lives on a CUDA device while deterministic algorithms are required."""
    return x.is_cuda and torch.are_deterministic_algorithms_enabled()


# --------------------------------------------------------------------------- grid_sample


def bilinear_sample_border(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """``F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)``, by gathering.

    ``x``: N x C x H x W; ``grid``: N x Ho x Wo x 2 (x, y in [-1, 1]).  Coordinates
    outside the image are clamped to its border, as ``padding_mode="border"`` does.
    Differentiable in ``x`` (not in ``grid``), with a deterministic backward pass.
    """
    n, c, h, w = x.shape
    _, ho, wo, _ = grid.shape
    gx = ((grid[..., 0] + 1) * w - 1) / 2  # align_corners=False: pixel centres at -1 + (2i + 1) / w
    gy = ((grid[..., 1] + 1) * h - 1) / 2
    gx, gy = gx.clamp(0, w - 1), gy.clamp(0, h - 1)
    x0, y0 = gx.floor(), gy.floor()
    wx, wy = gx - x0, gy - y0
    x0, y0 = x0.long(), y0.long()
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    flat = x.reshape(n, c, h * w)

    def at(yy, xx):
        idx = (yy * w + xx).reshape(n, 1, ho * wo).expand(n, c, ho * wo)
        return flat.gather(2, idx).reshape(n, c, ho, wo)

    wx, wy = wx[:, None].to(x.dtype), wy[:, None].to(x.dtype)
    top = at(y0, x0) * (1 - wx) + at(y0, x1) * wx
    bottom = at(y1, x0) * (1 - wx) + at(y1, x1) * wx
    return top * (1 - wy) + bottom * wy


def grid_sample_border(x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling with border padding: ``F.grid_sample``, or :func:`bilinear_sample_border` where
    the former's backward pass would not be deterministic."""
    if deterministic_cuda(x):
        return bilinear_sample_border(x, grid)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# --------------------------------------------------------------------------- adaptive average pooling


def _pooling_matrix(size_in: int, size_out: int, like: torch.Tensor) -> torch.Tensor:
    """size_out x size_in: row i averages the cells [floor(i*in/out), ceil((i+1)*in/out)), as PyTorch does."""
    m = torch.zeros(size_out, size_in, dtype=like.dtype, device=like.device)
    for i in range(size_out):
        start, end = (i * size_in) // size_out, -(-((i + 1) * size_in) // size_out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def adaptive_avg_pool2d(x: torch.Tensor, size) -> torch.Tensor:
    """``F.adaptive_avg_pool2d`` whose backward pass is deterministic on CUDA too (see the module notes)."""
    oh, ow = (size, size) if isinstance(size, int) else tuple(size)
    out = (x.shape[-2] if oh is None else oh, x.shape[-1] if ow is None else ow)
    if tuple(x.shape[-2:]) == out:
        return x  # every output cell is the average of exactly one input cell
    if deterministic_cuda(x):
        ph, pw = _pooling_matrix(x.shape[-2], out[0], x), _pooling_matrix(x.shape[-1], out[1], x)
        return torch.einsum("ih,nchw,jw->ncij", ph, x, pw)
    return F.adaptive_avg_pool2d(x, out)


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``nn.AdaptiveAvgPool2d`` computed by :func:`adaptive_avg_pool2d` (same values, reproducible on CUDA)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return adaptive_avg_pool2d(x, self.output_size)


# --------------------------------------------------------------------------- indexing


def pick_channels(out: torch.Tensor, channels: torch.Tensor) -> torch.Tensor:
    """``out[arange(N), channels]``: image i's channel ``channels[i]`` (N x ... from N x C x ...), by ``gather``,
    whose backward pass is deterministic on CUDA (advanced indexing's is an accumulating ``index_put``)."""
    channels = channels.to(out.device).long()
    index = channels.view(-1, 1, *([1] * (out.ndim - 2))).expand(-1, 1, *out.shape[2:])
    return out.gather(1, index).squeeze(1)
