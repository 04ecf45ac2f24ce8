"""hardpos.workflow.results_folder: a results folder belongs to the config that made it;
configs that make the same outputs share."""

from __future__ import annotations

import copy

import pytest
from paths import REPO

from hardpos.workflow.provenance import record_run
from hardpos.workflow.results_folder import (
    ResultsFolderError,
    check_results_folder,
    first_difference,
)

from .conftest import config


def test_how_fast_and_where_a_run_goes_and_added_recipes_make_the_same_outputs():
    smoke = config("smoke.yaml")
    faster = copy.deepcopy(smoke)
    faster["attack"]["batch_size"] = 512
    faster["threads"], faster["device"], faster["results"] = 2, "cpu", "elsewhere"
    faster["recipes"] = [*smoke["recipes"][1:], {"name": "HC-D-3", "method": "hc-d", "k": 3}]
    faster["robustness"]["enabled"] = False
    assert first_difference(smoke, faster) is None


def test_a_key_that_makes_other_outputs_is_named_with_both_values():
    smoke, mini = config("smoke.yaml"), config("mini.yaml")
    assert first_difference(smoke, mini) == "config key base.iterations: 10000 here, 300"
    redefined = copy.deepcopy(smoke)
    redefined["recipes"][0]["method"] = "fgv"
    assert first_difference(smoke, redefined).startswith("config key recipes: 'FGS' is ")


def test_a_folder_another_config_made_is_refused_naming_folder_key_and_way_out(tmp_path):
    results = tmp_path / "results" / "smoke"
    record_run(config("smoke.yaml", results=results), REPO)
    with pytest.raises(ResultsFolderError) as refused:
        check_results_folder(config("config.yaml", "paper-rows.yaml", results=results))
    message = str(refused.value)
    assert f"results folder {results} holds the outputs of another config" in message
    assert "config key base.iterations: 10000 here, 300" in message
    assert f"--config results={results}-2" in message
    check_results_folder(config("smoke.yaml", results=results))  # its own config: welcome
    check_results_folder(config("mini.yaml", results=tmp_path / "new"))  # a new folder too
