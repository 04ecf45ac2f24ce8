"""The workflow's layout: paths, base nets and model ids, checked against hand-worked cases
and against the old way of recovering a model's metadata (a regex on its id)."""

from __future__ import annotations

import re

import pytest
import yaml
from paths import REPO
from snakemake.utils import update_config

from hardpos.workflow.layout import (
    ImagenetLayout,
    LayoutError,
    MnistLayout,
    Paths,
    layout_from_config,
    one_of,
)


def config(*overlays: str, **changes) -> dict:
    """A config as Snakemake builds it: config.yaml, then each overlay merged in."""
    merged = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for name in overlays:
        update_config(merged, yaml.safe_load((REPO / "config" / name).read_text()))
    update_config(merged, changes)
    return merged


def metadata_from_id(model_id: str, infimnist_label: str) -> dict:
    """The workflow's former decoding of an MNIST model id, written out again by hand."""
    kind, rest = model_id.split("/", 1)
    if kind == "base":
        net = int(re.fullmatch(r"net(\d+)", rest)[1])
        return {"recipe": "basic", "net": net, "order": None, "parent_net": net}
    if kind == "finetune":
        recipe, net, order = re.fullmatch(r"(.+)/net(\d+)-order(\d+)", rest).groups()
        return {"recipe": recipe, "net": int(net), "order": int(order), "parent_net": int(net)}
    seed = int(re.fullmatch(r"net(\d+)", rest)[1])
    return {"recipe": infimnist_label, "net": seed, "order": None, "parent_net": None}


def test_paths_follow_the_scheme_under_results():
    paths = Paths("out")
    assert paths.model("finetune/HC-D-9/net1-order2") == "out/models/finetune/HC-D-9/net1-order2.pt"
    assert paths.solver("base/net1") == "out/models/base/net1.solver.pt"
    assert paths.checkpoint("base/net1") == "out/checkpoints/base/net1.ckpt"
    assert (
        paths.adv_scored("test", "net3", "hc-s") == "out/adversarials/test/net3/hc-s/scored.parquet"
    )
    assert paths.evaluation("{model}") == "out/eval/{model}.json"
    assert (
        paths.benchmark("generate", "train-net1-fgs")
        == "out/benchmarks/generate/train-net1-fgs.tsv"
    )
    assert paths.log("generate", "train-net1-fgs") == "out/logs/generate/train-net1-fgs.log"


def test_one_of_matches_exactly_the_names():
    pattern = one_of(["net1", "HC-D-9-1.05"])
    assert re.fullmatch(pattern, "net1") and re.fullmatch(pattern, "HC-D-9-1.05")
    assert not re.fullmatch(pattern, "net10")
    assert not re.fullmatch(pattern, "HC-D-9-1x05")  # the dot is literal
    assert not re.fullmatch(one_of([]), "")


def test_paper_config_lists_every_model_with_the_metadata_its_id_encodes():
    layout = layout_from_config(config())
    assert isinstance(layout, MnistLayout)
    assert list(layout.nets) == ["net1", "net2", "net3"]
    # 3 base nets; 7 paper recipes + 2 frontier rows + 2 modern baselines (FGS-objective,
    # PGD-AT) + 5 PASS buckets, each on 3 nets x 3 orders; 3 InfiMNIST-style
    assert len(layout.models) == 3 + 16 * 9 + 3
    label = layout.infimnist_label()
    assert label == "InfiMNIST-style (1M)"
    for model_id, model in layout.models.items():
        assert model.meta == metadata_from_id(model_id, label), model_id
        assert layout.model_at(layout.paths.model(model_id)) is model
    tuned = layout.model("finetune/PASS-0.50-0.60/net2-order3")
    assert (tuned.seed, tuned.order, tuned.net) == (3, 3, 2)
    assert layout.model("base/net2").seed == 2
    assert layout.model("infimnist/net3").seed == 3


def test_smoke_config_recipes_buckets_and_inputs():
    layout = layout_from_config(config("smoke.yaml"))
    assert layout.bucket_ranges() == {"PASS-0.00-0.70": (0.0, 0.7), "PASS-0.70-1.00": (0.7, 1.0)}
    assert layout.finetune_recipes == [
        "FGS",
        "HC-D-9",
        "HC-D-3-1.10-tau",
        "HC-D-9-frontier-0.6",
        "clean",
        "FGS-objective",
        "PGD-AT",
        *layout.bucket_names,
    ]
    assert layout.table1_recipes()[0] == "basic"
    assert layout.table1_recipes()[-1] == "InfiMNIST-style (2,000)"
    assert layout.finetuned_ids(["PASS-0.70-1.00"]) == [
        "finetune/PASS-0.70-1.00/net1-order1",
        "finetune/PASS-0.70-1.00/net1-order2",
    ]
    assert layout.recipe_inputs("clean", "net1") == {}
    assert layout.recipe_inputs("HC-D-9", "net1") == {
        "images": "results/smoke/adversarials/train/net1/hc-d/images.npz",
        "table": "results/smoke/adversarials/train/net1/hc-d/scored.parquet",
    }
    # fine-tuning continues the base net's solver to base + fine-tuning iterations
    init = layout.finetune_inputs("FGS", "net1")["init"]
    assert init == "results/smoke/models/base/net1.solver.pt"
    assert layout.finetune_iterations() == 300 + 60
    assert layout.attack_limit("train", "net1") is None  # the training split is drawn
    assert layout.attack_draw("train") == {"count": 150, "seed": 0}
    assert layout.attack_limit("test", "net1") == 100
    assert layout.attack_set("test", "net1") == "results/smoke/data/mnist-test.npz"
    # the held-out types need every family on the test split
    assert [pair[0] for pair in layout.generated("test", "net1")] == [
        f"results/smoke/adversarials/test/net1/{family}/images.npz"
        for family in ("fgs", "fgv", "hc-d", "hc-s")
    ]
    assert set(layout.evaluate_inputs("base/net1")) == {"model", "test", "heldout", "heldout_table"}


def test_no_buckets_and_no_baseline_leave_only_base_and_recipe_models():
    layout = layout_from_config(
        config("smoke.yaml", buckets={"enabled": False}, infimnist={"enabled": False})
    )
    assert layout.bucket_names == []
    assert sorted({m.recipe for m in layout.models.values()}) == sorted(
        [
            "basic",
            "FGS",
            "HC-D-9",
            "HC-D-3-1.10-tau",
            "HC-D-9-frontier-0.6",
            "FGS-objective",
            "PGD-AT",
            "clean",
        ]
    )


def test_imagenet_layout_names_networks_and_fine_tunes_only_the_chosen_ones():
    layout = layout_from_config(config("imagenet.yaml"))
    assert isinstance(layout, ImagenetLayout)
    assert layout.attack_splits == ("train",)
    assert layout.net_value("googlenet") == "googlenet"
    assert list(layout.models) == [
        "base/googlenet",
        "base/resnet152",
        "finetune/HC-D-20-tau0.99/googlenet-order1",
    ]
    assert layout.model("base/resnet152").meta == {
        "recipe": "basic", "net": "resnet152", "order": None, "parent_net": None,
    }  # fmt: skip
    # the fine-tuned network attacks every selected crop, the other only Figure 3's few
    assert layout.attack_limit("train", "googlenet") is None
    assert layout.attack_limit("train", "resnet152") == 15
    assert (
        layout.attack_set("train", "resnet152")
        == "results/imagenet/data/imagenet-selected-resnet152.npz"
    )
    assert layout.finetune_inputs("HC-D-20-tau0.99", "googlenet")["init"] == (
        "results/imagenet/models/base/googlenet.pt"
    )
    assert (
        layout.evaluate_inputs("base/googlenet")["test"]
        == "results/imagenet/data/imagenet-val.parquet"
    )
    assert layout.finetune_solver()["lr_policy"] == "step"
    assert layout.weights("googlenet") == "torchvision"
    smoke = layout_from_config(config("imagenet-smoke.yaml"))
    assert smoke.weights("resnet152") == "results/imagenet-smoke/weights/resnet152-random.pth"


def test_the_two_layouts_name_different_scripts_for_the_dataset_specific_stages():
    assert MnistLayout.scripts.keys() == ImagenetLayout.scripts.keys() == {"finetune", "evaluate"}
    for layout in (MnistLayout, ImagenetLayout):
        for script in layout.scripts.values():
            assert (REPO / "workflow" / "scripts" / script).is_file(), script
    assert set(MnistLayout.scripts.values()).isdisjoint(ImagenetLayout.scripts.values())


def test_mistakes_name_the_key_and_what_was_expected():
    with pytest.raises(LayoutError, match=r"key dataset: 'cifar' is not one of mnist, imagenet"):
        layout_from_config(config(dataset="cifar"))
    with pytest.raises(LayoutError, match=r"imagenet.finetune_nets: alexnet not in imagenet.nets"):
        layout_from_config(config("imagenet.yaml", imagenet={"finetune_nets": ["alexnet"]}))
    layout = layout_from_config(config("smoke.yaml"))
    with pytest.raises(LayoutError, match=r"no model 'base/net7' in this config"):
        layout.model("base/net7")
    with pytest.raises(LayoutError, match=r"results/models/base/net7.pt: not a model"):
        layout.model_at("results/models/base/net7.pt")
