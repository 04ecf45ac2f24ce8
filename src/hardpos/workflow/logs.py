"""Logging for workflow scripts: everything a job says goes to its own log file."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

from hardpos.errors import HardposError


@contextlib.contextmanager
def log_to_file(path: str | os.PathLike) -> Iterator[logging.Logger]:
    """Send the ``hardpos`` loggers and warnings to ``path`` for the duration of a job."""
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield logging.getLogger("hardpos.workflow")
    except HardposError as exc:
        # a user's mistake: one line in the log and on stderr, no traceback
        logging.getLogger("hardpos.workflow").error("%s", exc)
        print(f"hardpos: error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception:
        logging.getLogger("hardpos.workflow").exception("job failed")
        raise
    finally:
        handler.flush()
        root.removeHandler(handler)
        root.setLevel(previous)
        logging.captureWarnings(False)
        handler.close()
        sys.stderr.flush()
