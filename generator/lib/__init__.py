"""The reusable science: CNN visualisations on any torchvision CNN, with no knowledge of the site.

    from generator.lib import grad_cam, smoothgrad, activation_maximisation
    cam = grad_cam(net, x, target=281, layer="layer4")          # H x W in [0, 1]
    sg = smoothgrad(net, x, target=281, n=25, sigma=0.15)       # H x W
    res = activation_maximisation(net, "block4_conv3", [7, 42])  # res.images: 2 x 3 x 128 x 128

Layers are modules, module paths, or on a VGG16 the literature's names
(``block1_conv1`` ... ``block5_pool``, ``fc1``, ``fc2``, ``predictions``).
``x`` is one preprocessed image or a batch; ``target`` one class or one per image.

Modules: :mod:`.layers` (resolve, capture, prepared model), :mod:`.engine`
(the shared gradient pass), :mod:`.attr` (attributions and CAM variants), :mod:`.integrated`
(gradient x input, Integrated Gradients), :mod:`.lrp`, :mod:`.perturbation` (occlusion, Score-CAM),
:mod:`.faithfulness` (deletion and insertion curves),
:mod:`.optvis` (optimising an input), :mod:`.metrics` (Spearman, SSIM, PSNR).
"""

from generator.lib.attr import (
    cam,
    deconvnet,
    grad_cam,
    grad_cam_plus_plus,
    guided_backprop,
    guided_grad_cam,
    layer_cam,
    saliency,
    saliency_map,
    smoothgrad,
    upsample,
)
from generator.lib.cam_rules import CAM_RULES, CamRule
from generator.lib.engine import Explanation, explain
from generator.lib.faithfulness import Curve, deletion_curve, end_points, insertion_curve, random_map, sobel_map
from generator.lib.integrated import completeness_error, input_x_gradient, integrated_gradients
from generator.lib.layers import Layer, activations, capture, conv_layer, is_vgg16, layer_choices, resolve_layer
from generator.lib.lrp import lrp
from generator.lib.metrics import compare, psnr, spearman, ssim
from generator.lib.optvis import OptResult, activation_maximisation, class_model, deep_dream, invert
from generator.lib.perturbation import occlusion, score_cam

__all__ = [
    "saliency",
    "input_x_gradient",
    "integrated_gradients",
    "completeness_error",
    "smoothgrad",
    "deconvnet",
    "lrp",
    "occlusion",
    "score_cam",
    "layer_cam",
    "deletion_curve",
    "end_points",
    "insertion_curve",
    "Curve",
    "random_map",
    "sobel_map",
    "deep_dream",
    "guided_backprop",
    "cam",
    "grad_cam",
    "grad_cam_plus_plus",
    "guided_grad_cam",
    "saliency_map",
    "upsample",
    "explain",
    "Explanation",
    "CAM_RULES",
    "CamRule",
    "activation_maximisation",
    "class_model",
    "invert",
    "OptResult",
    "Layer",
    "resolve_layer",
    "layer_choices",
    "conv_layer",
    "capture",
    "activations",
    "is_vgg16",
    "spearman",
    "ssim",
    "psnr",
    "compare",
]
