"""Where the trained weights live and what identifies them, without importing torch.

The no-change fast path (:mod:`generator.build.fresh`) needs the weights'
identity before anything imports torch, so the file names, the torch hub
folder and the memoised sha256 live here; :mod:`generator.models` uses them.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

WEIGHTS_URL = "https://download.pytorch.org/models/vgg16-397923af.pth"
"""torchvision's ``VGG16_Weights.IMAGENET1K_V1.url`` (a test checks they agree)."""
CHECKPOINT_NAME = WEIGHTS_URL.rsplit("/", 1)[1]  # vgg16-397923af.pth


def hub_dir() -> Path:
    """``torch.hub.get_dir()``: ``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub``, else ``~/.cache/torch/hub``."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(os.path.expanduser(home)) / "hub"


def default_checkpoint_path() -> Path:
    """Where torchvision's download lands: ``$TORCH_HOME/hub/checkpoints/vgg16-397923af.pth``."""
    return hub_dir() / "checkpoints" / CHECKPOINT_NAME


def _memo_path() -> Path:
    return Path(os.environ.get("CNN_SEES_HASH_MEMO", Path.home() / ".cache" / "cnn-sees" / "sha256.json"))


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, memoised by (path, size, mtime) in ``$CNN_SEES_HASH_MEMO``
    (default ``~/.cache/cnn-sees/sha256.json``): hashing 528 MB costs seconds, a lookup nothing."""
    path = Path(path).resolve()
    st = path.stat()
    key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
    memo_path = _memo_path()
    memo: dict[str, str] = {}
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        pass
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    digest = h.hexdigest()
    memo[key] = digest
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        tmp.replace(memo_path)
    except OSError:
        pass
    return digest


def weights_identity(path: Path | None, sha256=file_sha256) -> str:
    """The trained weights' identity: the sha256 of ``path`` (or of the torch hub cache's file when
    ``path`` is None), or ``torchvision:URL`` when nothing is downloaded yet (torch.hub checks the
    download's hash).  A ``path`` that is not a file raises ``FileNotFoundError``."""
    if path is None:
        cached = default_checkpoint_path()
        if not cached.is_file():
            return f"torchvision:{WEIGHTS_URL}"
        path = cached
    if not Path(path).is_file():
        raise FileNotFoundError(2, "no such file", str(path))
    return sha256(Path(path))
