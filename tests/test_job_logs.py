"""A workflow job that fails says why in its own log: the robustness job's library import
happens inside the job frame, so a broken install (adv-lib, torch) is logged there too."""

from __future__ import annotations

import runpy
import sys
from types import SimpleNamespace

import pytest
from paths import REPO

SCRIPT = REPO / "workflow" / "scripts" / "robustness.py"


def test_a_robustness_job_whose_library_fails_to_import_says_so_in_its_log(tmp_path, monkeypatch):
    log = tmp_path / "robustness.log"
    job = SimpleNamespace(log=[str(log)], config={"device": "cpu"}, threads=1,
                          resources=SimpleNamespace(gpu=0))  # fmt: skip
    monkeypatch.setitem(sys.modules, "hardpos.robustness.record", None)  # import fails
    with pytest.raises(ImportError):
        runpy.run_path(str(SCRIPT), init_globals={"snakemake": job})
    text = log.read_text()
    assert "job failed" in text and "hardpos.robustness.record" in text, text
