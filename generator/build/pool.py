"""The two models of a build: loaded on first use, and checked to be left as they were found."""

from __future__ import annotations

import logging

from generator.core import ModelInput

log = logging.getLogger("generator")


class ModelStateError(RuntimeError):
    """A model was not in eval mode with frozen parameters around a unit (a bug in a technique)."""


class ModelPool:
    """Loads each VGG16 on first use only, and checks that techniques leave them as they found them."""

    def __init__(self, weights, device):
        self.weights = weights  # generator.models.WeightsSource
        self.device = device
        self._nets: dict[str, ModelInput] = {}
        self._ids: dict[str, str] = {}

    def identity(self, name: str) -> str:
        from generator.models import model_identity

        if name not in self._ids:
            self._ids[name] = model_identity(name, self.weights)
        return self._ids[name]

    def get(self, name: str) -> ModelInput:
        from generator.models import build_model

        if name not in self._nets:
            log.info("loading the %s VGG16", name)
            self._nets[name] = ModelInput(name, build_model(name, self.weights, self.device))
        return self._nets[name]

    def check_pristine(self, when: str) -> None:
        """Raise ``ModelStateError`` if a loaded model is in training mode or has trainable parameters.

        Dropout in training mode changes every later result, so a leak would
        make the published numbers depend on build order.  A model found in
        that state is dropped from the pool (the next unit reloads it).
        """
        for name, model in list(self._nets.items()):
            bad = next((n or "the model" for n, m in model.net.named_modules() if m.training), None)
            what = f"module {bad} in training mode"
            if bad is None:
                bad = next((n for n, p in model.net.named_parameters() if p.requires_grad), None)
                what = f"parameter {bad} requiring grad"
            if bad is not None:
                del self._nets[name]
                raise ModelStateError(
                    f"internal error: {when} the {name} VGG16 had {what}; "
                    f"a technique must leave models in eval mode with frozen parameters"
                )
