"""Where the repository is, and the real MNIST beside it, for a test at any depth of tests/.

``tests/`` is on ``sys.path`` (pyproject.toml, ``pythonpath``), so every test, helper and
conftest imports these from here (``from paths import REPO``) instead of counting its own
folder's parents.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def mnist_dir() -> Path:
    """``$HARDPOS_MNIST_DIR``, else ``../shared/data/mnist`` beside the repository."""
    env = os.environ.get("HARDPOS_MNIST_DIR")
    return Path(env) if env else REPO.parent / "shared" / "data" / "mnist"
