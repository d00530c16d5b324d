"""What a build tells the site besides figures: which weights it used, the model labels, the fragments.

:class:`SiteOutput` is the part of :class:`generator.build.run.Build` that turns the build's state (the
weights' identity, whether they could be loaded, the photos) into what the fragments and the manifest
state, and writes a technique's fragments or its "Not built" notice.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from generator.build.output import drop_output

if TYPE_CHECKING:  # pragma: no cover
    from generator.core import Technique


class SiteOutput:
    """Mixed into ``Build``: it uses ``self.opts``, ``self.models``, ``self.images``, ``self.state`` and
    ``self._fail``, and keeps ``_weights_failed``, ``_weights_reason`` and ``_weights_identity``."""

    def build_info(self) -> dict:
        """What the "How this site was built" page states about this build (stable across reruns)."""
        from generator.build.provenance import build_info

        return build_info(self.opts.profile.name, str(self.opts.device), self.weights_record())

    def _weights_unavailable(self, exc: BaseException) -> None:
        """Report the trained weights once; from then on every unit that needs them is skipped."""
        if not self._weights_failed:
            self._weights_failed = True
            self._weights_reason = " ".join(str(exc).split())
            self._fail(
                "trained VGG16",
                f"{self._weights_reason} (building what the untrained VGG16 needs; the chapters say what is missing)",
            )

    def _write_missing(self, tech: Technique) -> None:
        from generator.site.fragments import write_missing

        drop_output(tech, self.opts.out_dir, self.state)  # an earlier build's figures would contradict the notice
        write_missing(self.site_context(), tech, self._weights_reason)

    # -- site output ---------------------------------------------------------------------------
    def weights_identity(self):
        """Which trained weights this build uses (official or stand-in), from the checkpoint's sha256.

        Asked for by every render key and fragment, so it is worked out once per build.
        """
        from generator.models import WeightsError, WeightsIdentity

        if self._weights_identity is None:
            try:
                found = WeightsIdentity.of(self.models.weights.identity())
                if not found.official:
                    found = dataclasses.replace(found, random_like=self.models.weights.zero_biases() is True)
                self._weights_identity = found
            except WeightsError:  # unavailable: nothing trained is shown, so nothing to label
                self._weights_identity = WeightsIdentity(None, True)
        return self._weights_identity

    def model_table(self):
        from generator.models import model_table

        return model_table(self.weights_identity())

    def site_context(self):
        from generator.site.fragments import SiteContext

        return SiteContext.from_build(
            self.opts.out_dir, self.opts.profile, self.images, self.model_table(), self.weights_record()
        )

    def weights_record(self) -> dict:
        """The weights as the manifest and the build page state them, including whether they could be loaded."""
        return self.weights_identity().as_dict() | {"available": not self._weights_failed}

    def _write_fragments(self, tech: Technique, state: dict) -> None:
        from generator.site.fragments import write_technique

        try:
            write_technique(self.site_context(), tech, state)
        except Exception as exc:
            self._fail(f"{tech.name} (fragment)", exc)
