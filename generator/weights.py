"""The trained VGG16's weights: finding, downloading and checking a checkpoint before anything uses it.

A checkpoint is loaded with ``weights_only=True`` (no pickled code runs) and must be a torchvision VGG16
state dict, key for key and shape for shape; anything else is a :class:`WeightsError` whose message is one
line that names the file and the fix.  Without ``--weights`` the file is torchvision's ImageNet checkpoint
in the torch hub cache, downloaded there on first use.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torchvision.models import VGG16_Weights, vgg16

from generator.checkpoint import CHECKPOINT_NAME, default_checkpoint_path, file_sha256, weights_identity

WEIGHTS = VGG16_Weights.IMAGENET1K_V1


class WeightsError(Exception):
    """A weights file that cannot be used; ``str()`` is one line naming the file and the fix."""


def _expected_shapes() -> dict[str, torch.Size]:
    with torch.device("meta"):
        net = vgg16(weights=None, init_weights=False)
    return {k: v.shape for k, v in net.state_dict().items()}


def load_state_dict(path: Path, explicit: bool = True) -> dict[str, torch.Tensor]:
    """Load and check a VGG16 state dict without ever running pickled code.

    ``explicit``: the user passed the file (``--weights``); otherwise it is the
    torch hub cache's download, and the fix is to download it again.
    """
    path = Path(path)
    if explicit:
        fix = (
            f"pass a torchvision VGG16 state dict with --weights (the ImageNet file is {CHECKPOINT_NAME}; "
            f"a model's own is torch.save(model.state_dict(), PATH)), or leave --weights out to use the "
            f"torch hub cache"
        )
    else:
        fix = (
            f"download it again: delete {path} and rerun with internet access, or pass a torchvision "
            f"VGG16 state dict with --weights"
        )
    if path.is_dir():
        raise WeightsError(
            f"{path}: is a folder, not a checkpoint file. Pass the file itself "
            f"(e.g. {path / CHECKPOINT_NAME}) with --weights"
        )
    if not path.is_file():
        raise WeightsError(
            f"{path}: no such file. Pass the path of a torchvision VGG16 checkpoint ({CHECKPOINT_NAME}) with --weights"
        )
    state = _read_tensors(path, fix)
    _check_layout(path, state, fix)
    return state


def _is_safetensors(path: Path) -> bool:
    """Whether ``path`` starts like a safetensors file: an 8-byte little-endian header length, then JSON."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
    except OSError:
        return False
    return path.suffix == ".safetensors" or (len(head) == 9 and head[8:9] == b"{" and head[:8] != b"PK\x03\x04")


def _read_tensors(path: Path, fix: str) -> dict[str, torch.Tensor]:
    """The file's dict of tensors (unwrapping ``{"state_dict": ...}``), loaded without running pickled code."""
    if _is_safetensors(path):
        raise WeightsError(
            f"{path}: is a safetensors file; this tool reads PyTorch checkpoints. Convert it with "
            f"safetensors.torch.load_file and torch.save(state_dict, PATH), or pass {CHECKPOINT_NAME}"
        )
    try:
        with warnings.catch_warnings():  # an old pickle protocol warns; the file is still checked below
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "Unsupported operand" in str(exc):  # FRAME and friends: protocol 4 or 5, which the safe loader lacks
            raise WeightsError(
                f"{path}: was saved with a pickle protocol (4 or 5) that a safe load cannot read. If you trust the "
                f"file, save it again with torch's default: torch.save(torch.load(PATH, weights_only=False), PATH)"
            ) from None
        raise WeightsError(
            f"{path}: refused to load: the file holds Python code or objects besides tensors, which a safe load "
            f"will not run. Use a plain state dict saved with torch.save(model.state_dict(), PATH)"
        ) from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError) as exc:
        raise WeightsError(
            f"{path}: not a readable PyTorch checkpoint (truncated or corrupt: {type(exc).__name__}). Fix: {fix}"
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(
            f"{path}: expected a dict of tensors (a VGG16 state dict), got {type(state).__name__}. Fix: {fix}"
        )
    return state


def _check_layout(path: Path, state: dict[str, torch.Tensor], fix: str) -> None:
    """torchvision's VGG16 keys, each with its shape, or a one-line :class:`WeightsError`."""
    expected = _expected_shapes()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} keys (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
        raise WeightsError(f"{path}: not a torchvision VGG16 state dict: {'; '.join(parts)}. Fix: {fix}")
    bad = [k for k, shape in expected.items() if state[k].shape != shape]
    if bad:
        k = bad[0]
        raise WeightsError(
            f"{path}: wrong shape for {k}: {tuple(state[k].shape)} instead of "
            f"{tuple(expected[k])} ({len(bad)} tensors differ). Fix: {fix}"
        )


def fetch_checkpoint(progress: bool = True) -> Path:
    """Return the cached ImageNet checkpoint, downloading it through torch.hub if needed."""
    target = default_checkpoint_path()
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # torchvision's own URL and hash check; writes to a temp file, then renames.
        torch.hub.download_url_to_file(
            WEIGHTS.url, str(target), hash_prefix=CHECKPOINT_NAME.split("-")[1][:8], progress=progress
        )
    except Exception as exc:  # URLError, HTTPError, hash mismatch, timeouts...
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise WeightsError(
            f"{target}: ImageNet weights are not cached and could not be downloaded ({reason}). "
            f"Fix: put torchvision's {CHECKPOINT_NAME} (about 528 MB) at exactly that path "
            f"(TORCH_HOME moves it), or pass --weights PATH"
        ) from None
    return target


@dataclass
class WeightsSource:
    """Where the trained weights come from, and a content identity for caching."""

    path: Path | None  # None: resolve (and maybe download) on first use
    explicit: bool

    def resolve(self) -> Path:
        if self.path is None:
            self.path = fetch_checkpoint()
        return self.path

    def zero_biases(self) -> bool | None:
        """Whether every bias in the checkpoint is zero, as torchvision's random initialisation leaves them
        and no training does: a stand-in that is a random network (None: the file cannot be read)."""
        if self.path is None:
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                state = torch.load(self.path, map_location="cpu", weights_only=True, mmap=True)
        except Exception:  # noqa: BLE001 - a file the build cannot read is reported where it is loaded
            return None
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            return None
        biases = [v for k, v in state.items() if k.endswith(".bias") and isinstance(v, torch.Tensor)]
        return bool(biases) and all(not bool(b.any()) for b in biases)

    def identity(self) -> str:
        """sha256 of the checkpoint bytes, memoised by (path, size, mtime)."""
        try:
            return weights_identity(self.path, file_sha256)
        except FileNotFoundError as exc:
            raise WeightsError(
                f"{exc.filename}: no such file. Pass the path of a torchvision VGG16 "
                f"checkpoint ({CHECKPOINT_NAME}) with --weights"
            ) from None
