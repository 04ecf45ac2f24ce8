"""Where ``make publish`` may write, and how it swaps a folder in: publishing never
destroys. ``OUT`` may not be the results folder, inside it or above it, a file, or an
existing folder publish did not make; the new folder is built beside ``OUT`` and swapped
in with two renames, and a publish killed between them is put right by the next one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from hardpos.errors import InputError
from hardpos.files.digests import SUMS


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_out(results: Path, out: Path) -> None:
    """Refuse an ``OUT`` whose replacement would destroy something (module docstring)."""
    real_results, real_out = results.resolve(), out.resolve()
    if real_out == real_results:
        raise InputError(f"OUT {out} is the results folder itself: publishing would replace it")
    if _inside(real_out, real_results):
        raise InputError(f"OUT {out} is inside the results folder {results}: choose a folder "
                         "outside it (e.g. docs/results/<name>)")  # fmt: skip
    if _inside(real_results, real_out):
        raise InputError(f"OUT {out} holds the results folder {results}: publishing would "
                         "replace it")  # fmt: skip
    if out.exists() and not out.is_dir():
        raise InputError(f"OUT {out} is a file, not a folder: choose another OUT")
    if out.is_dir() and any(out.iterdir()) and not (out / SUMS).is_file():
        raise InputError(f"OUT {out} is a folder that publish did not make (no {SUMS}): "
                         "its files would be lost; choose a new folder")  # fmt: skip


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(out: Path) -> list[str]:
    """Put right what a killed publish left beside ``out``: its earlier folder, renamed
    aside but not yet replaced, goes back; build folders of dead publishes go. Returns
    what it did, one line each."""
    done: list[str] = []
    if not out.parent.is_dir():
        return done
    for leftover in sorted(out.parent.glob(f".{out.name}.*-*")):
        kind, _, pid = leftover.name.rpartition("-")
        if not pid.isdigit() or _pid_alive(int(pid)) and int(pid) != os.getpid():
            continue
        if kind.endswith(".old") and not out.exists():
            os.replace(leftover, out)
            done.append(f"{out}: restored from {leftover.name} (a publish was killed mid-swap)")
        elif kind.endswith((".old", ".publishing")):
            shutil.rmtree(leftover, ignore_errors=True)
            done.append(f"{leftover}: removed (left by a killed publish)")
    return done


def swap_in(building: Path, out: Path) -> None:
    """Put the finished folder at ``out``; an earlier one goes only once it is replaced
    (a kill between the renames leaves it at ``.<out>.old-<pid>``, which :func:`recover`
    puts back)."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        os.replace(out, old)
    os.replace(building, out)
    shutil.rmtree(old, ignore_errors=True)
