"""Optimising an input image: activation maximisation, class models and inversion.

Pure torch, no drawing, usable on any torchvision CNN, all on a batch so that
one forward/backward pass serves many images at once:

* :func:`activation_maximisation` -- images that excite chosen channels of a
  layer (Olah et al. 2017: Fourier parameterisation, decorrelated colour,
  transformation robustness), or the naive pixel-space ascent (``param="pixel"``);
* :func:`class_model` -- Simonyan et al. (2013): maximise an unnormalised class
  score minus an L2 penalty, with jitter and a blur every few steps;
* :func:`deep_dream` -- Mordvintsev et al. 2015: amplify what a layer sees in a photo, over octaves;
* :func:`invert` -- Mahendran & Vedaldi (2015): reconstruct a photo from one
  layer's features with an alpha-norm and a total-variation prior.

The parts live in small modules: :mod:`.param` (parameterisations),
:mod:`.transforms` (robustness transforms and priors), :mod:`.common` (result
type, objective, numeric context).  Layers are resolved by
:func:`generator.lib.layers.resolve_layer`, and the forward pass stops at the
target layer (:func:`generator.lib.layers.capture`).  Every random choice is
drawn from the ``torch.Generator`` passed in, so a call is repeatable bit for
bit.  Only the input image requires grad, and hooks are always removed.
"""

from generator.lib.optvis.classes import class_model
from generator.lib.optvis.common import OptResult, flush_denormals
from generator.lib.optvis.dream import deep_dream
from generator.lib.optvis.features import activation_maximisation
from generator.lib.optvis.inversion import invert, progressive
from generator.lib.optvis.param import (
    COLOUR_CORRELATION,
    FourierImage,
    PixelImage,
    denormalise,
    normalise,
    spectrum_scale,
)
from generator.lib.optvis.transforms import (
    alpha_norm,
    gaussian_blur,
    jitter,
    pad,
    robustness,
    roll_jitter,
    scale_rotate,
    total_variation,
)

__all__ = [
    "activation_maximisation",
    "deep_dream",
    "class_model",
    "invert",
    "progressive",
    "OptResult",
    "flush_denormals",
    "FourierImage",
    "PixelImage",
    "COLOUR_CORRELATION",
    "normalise",
    "denormalise",
    "spectrum_scale",
    "pad",
    "jitter",
    "scale_rotate",
    "robustness",
    "roll_jitter",
    "gaussian_blur",
    "total_variation",
    "alpha_norm",
]
