"""Figures written atomically and reproducibly: the same figure gives the same bytes.

Matplotlib stamps a PDF with its creation time, so two runs that drew the same figure
would differ in bytes; the date is left out (PNG carries none).
"""

from __future__ import annotations

import os
from typing import Any

from hardpos.files.atomic import atomic_path

# what a file's suffix says, in savefig's metadata: no creation time
_NO_DATE = {"pdf": {"CreationDate": None}}


def save_figure(figure: Any, path: str | os.PathLike, **options: Any) -> None:
    """``figure.savefig`` into ``path`` (format from its suffix), atomically and without a
    creation date; ``options`` go to savefig (dpi, bbox_inches)."""
    fmt = str(path).rsplit(".", 1)[-1]
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format=fmt, metadata=_NO_DATE.get(fmt), **options)
