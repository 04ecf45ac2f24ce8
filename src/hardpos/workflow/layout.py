"""Where every workflow file lives and which models the workflow makes, built once from the config.

The Snakefile builds one layout when the DAG is built (:func:`layout_from_config`); the
config key ``dataset`` picks its class, :class:`MnistLayout` or :class:`ImagenetLayout`, so
the MNIST/ImageNet choice is made here and nowhere else. A rule asks the layout for paths
(:class:`Paths`, the one path scheme), for the base networks a ``{net}`` wildcard may name,
and for each model's metadata (:class:`Model`), which is kept beside the model's id when the
layout lists the models rather than parsed back out of the id later.

Imported when the DAG is built (every ``snakemake -n``, every cluster job's start): nothing
here imports torch, torchvision or OpenCV.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from hardpos.errors import HardposError
from hardpos.experiments.recipes import (
    BASE_ROW,
    BASELINE_ROW_PREFIX,
    Recipe,
    bucket_name,
    generation_plan,
    parse_recipes,
)
from hardpos.files.run_folders import (
    ADVERSARIALS,
    BENCHMARKS,
    CHECKPOINTS,
    DATA,
    EVALUATIONS,
    FIGURES,
    HELDOUT,
    LOGS,
    MODELS,
    ROBUSTNESS,
    TABLES,
    TRAINSETS,
    WEIGHTS,
)

# Model ids: a model's path under models/ (and its evaluation's under eval/) without the
# extension. A rule's output uses the same pattern with the fields left as wildcards.
BASE_ID = "base/{net}"
FINETUNE_ID = "finetune/{recipe}/{net}-order{order}"
INFIMNIST_ID = "infimnist/{net}"


class LayoutError(HardposError):
    """The config asks for something the workflow's layout cannot name."""


def one_of(names: Iterable[str]) -> str:
    """A wildcard constraint matching exactly these names (none given: one that never matches)."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


@dataclass(frozen=True)
class Paths:
    """The path scheme under the config's ``results`` folder (its sub-folders:
    :mod:`hardpos.files.run_folders`); a rule never builds a path itself.

    Every argument may be a name or a ``{wildcard}``: the rules' outputs are these paths with
    wildcards, their inputs the same paths with names.
    """

    results: str

    def mnist(self, split: str) -> str:
        """An MNIST split (train, test) as the workflow's dataset file."""
        return f"{self.results}/{DATA}/mnist-{split}.npz"

    def infimnist_set(self) -> str:
        return f"{self.results}/{DATA}/infimnist-style.npz"

    def imagenet_index(self, split: str) -> str:
        """An ImageFolder split (train, val) as an index of files: crops are decoded on the fly."""
        return f"{self.results}/{DATA}/imagenet-{split}.parquet"

    def selected(self, net: str) -> str:
        """ImageNet: the correctly classified training crops a network attacks."""
        return f"{self.results}/{DATA}/imagenet-selected-{net}.npz"

    def random_weights(self, net: str) -> str:
        return f"{self.results}/{WEIGHTS}/{net}-random.pth"

    def model(self, model_id: str) -> str:
        """``model_id``: base/net1, finetune/HC-D-9/net1-order2, infimnist/net1, base/googlenet."""
        return f"{self.results}/{MODELS}/{model_id}.pt"

    def solver(self, model_id: str) -> str:
        """The training state a model ended with (weights, momentum, iteration count)."""
        return f"{self.results}/{MODELS}/{model_id}.solver.pt"

    def checkpoint(self, model_id: str) -> str:
        """In-progress training state; not a rule output, so Snakemake never deletes it."""
        return f"{self.results}/{CHECKPOINTS}/{model_id}.ckpt"

    def adv_images(self, split: str, net: str, family: str) -> str:
        return f"{self.results}/{ADVERSARIALS}/{split}/{net}/{family}/images.npz"

    def adv_table(self, split: str, net: str, family: str) -> str:
        return f"{self.results}/{ADVERSARIALS}/{split}/{net}/{family}/table.parquet"

    def adv_scored(self, split: str, net: str, family: str) -> str:
        """The generated table with a PASS score on every row."""
        return f"{self.results}/{ADVERSARIALS}/{split}/{net}/{family}/scored.parquet"

    def trainset(self, recipe: str, net: str) -> str:
        return f"{self.results}/{TRAINSETS}/{recipe}/{net}.npz"

    def heldout_set(self) -> str:
        return f"{self.results}/{HELDOUT}/heldout.npz"

    def heldout_table(self) -> str:
        return f"{self.results}/{HELDOUT}/heldout.parquet"

    def evaluation(self, model_id: str) -> str:
        return f"{self.results}/{EVALUATIONS}/{model_id}.json"

    def table(self, name: str, ext: str) -> str:
        return f"{self.results}/{TABLES}/{name}.{ext}"

    def figure(self, name: str, ext: str) -> str:
        return f"{self.results}/{FIGURES}/{name}.{ext}"

    def log(self, rule: str, name: str) -> str:
        return f"{self.results}/{LOGS}/{rule}/{name}.log"

    def robustness(self, model_id: str) -> str:
        """Beyond the paper: a model's strong-attack record (rule robustness)."""
        return f"{self.results}/{ROBUSTNESS}/{model_id}.json"

    def benchmark(self, rule: str, name: str) -> str:
        """Snakemake's time and memory record of one job (``benchmark:``), named as its log."""
        return f"{self.results}/{BENCHMARKS}/{rule}/{name}.tsv"


@dataclass(frozen=True)
class BaseNet:
    """A base network: ``name`` in paths and wildcards, ``value`` in tables and records.

    MNIST's are numbered by their seed (net1 -> 1), ImageNet's named by their architecture
    (googlenet -> "googlenet").
    """

    name: str
    value: int | str


@dataclass(frozen=True)
class Model:
    """A model the workflow makes, with what its evaluation record says about it.

    ``parent_net``: the base net whose adversarials count as the model's own in the
    held-out error split by origin (MNIST base and fine-tuned nets; None otherwise).
    ``seed``: the training seed (a base net's seed, a fine-tuning run's data order; None
    for a network imported rather than trained).
    """

    id: str
    recipe: str
    net: int | str
    order: int | None = None
    parent_net: int | None = None
    seed: int | None = None

    @property
    def meta(self) -> dict[str, Any]:
        """The fields the evaluate stage writes into the model's record."""
        return {
            "recipe": self.recipe,
            "net": self.net,
            "order": self.order,
            "parent_net": self.parent_net,
        }


class Layout(ABC):
    """What both experiments share: paths, recipes, the generation plan, the list of models.

    A subclass says what differs by dataset; :func:`layout_from_config` picks one.
    """

    dataset: ClassVar[str]
    # the splits whose images the base nets attack
    attack_splits: ClassVar[tuple[str, ...]]
    # the script (in workflow/scripts) of each shared rule whose stage differs by dataset
    scripts: ClassVar[dict[str, str]]

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.paths = Paths(config["results"])
        self.recipes: dict[str, Recipe] = {r.name: r for r in parse_recipes(config["recipes"])}
        self.nets: dict[str, BaseNet] = {net.name: net for net in self._base_nets()}
        self.finetune_nets: list[str] = self._finetune_nets()
        self.bucket_names: list[str] = self._bucket_names()
        # fine-tuning recipes: the config's, then the PASS buckets of Figure 6
        self.finetune_recipes: list[str] = [*self.recipes, *self.bucket_names]
        self.generation: dict[str, dict[str, dict]] = self._generation_plan()
        finetuned = [
            self._finetune_model(recipe, net, int(order))
            for recipe in self.finetune_recipes
            for net in self.finetune_nets
            for order in config["finetune"]["orders"]
        ]
        models = [*self._base_models(), *finetuned, *self._baseline_models()]
        self.models: dict[str, Model] = {model.id: model for model in models}
        self._by_path = {self.paths.model(model_id): m for model_id, m in self.models.items()}

    # -- what differs by dataset
    @abstractmethod
    def _base_nets(self) -> list[BaseNet]: ...

    @abstractmethod
    def _finetune_nets(self) -> list[str]: ...

    def _bucket_names(self) -> list[str]:
        return []

    @abstractmethod
    def _generation_plan(self) -> dict[str, dict[str, dict]]: ...

    @abstractmethod
    def _base_models(self) -> list[Model]: ...

    @abstractmethod
    def _finetune_model(self, recipe: str, net: str, order: int) -> Model: ...

    def _baseline_models(self) -> list[Model]:
        """Models trained beside the base and fine-tuned ones (MNIST's augmentation baseline)."""
        return []

    @abstractmethod
    def attack_set(self, split: str, net: str) -> str:
        """The images base net ``net`` attacks on ``split``."""

    @abstractmethod
    def attack_limit(self, split: str, net: str) -> int | None:
        """How many of the first images of the attack set to attack (None: all)."""

    def attack_draw(self, split: str) -> dict[str, int | float] | None:
        """A seeded draw of the images to attack (``{"count": ..., "seed": ...}``), or None
        for the first :meth:`attack_limit` images."""
        return None

    @abstractmethod
    def finetune_inputs(self, recipe: str, net: str) -> dict[str, str]:
        """The finetune rule's inputs: the data, the recipe's images, what it starts from."""

    @abstractmethod
    def finetune_iterations(self) -> int:
        """The iteration counter fine-tuning ends at."""

    @abstractmethod
    def finetune_solver(self) -> dict[str, Any]:
        """The solver section fine-tuning uses."""

    @abstractmethod
    def evaluate_inputs(self, model_id: str) -> dict[str, str]:
        """The evaluate rule's inputs: the model and the data it is scored on."""

    # -- shared
    @property
    def net_pattern(self) -> str:
        """The ``{net}`` wildcard's constraint: this config's base nets."""
        return one_of(self.nets)

    @property
    def model_pattern(self) -> str:
        """The ``{model}`` wildcard's constraint: every model id of this config."""
        return one_of(self.models)

    def net_value(self, net: str) -> int | str:
        """What tables record for base net ``net`` (1 for net1, "googlenet" for googlenet)."""
        return self.nets[net].value

    def model(self, model_id: str) -> Model:
        try:
            return self.models[model_id]
        except KeyError:
            raise LayoutError(f"no model {model_id!r} in this config") from None

    def model_at(self, path: str) -> Model:
        """The model a rule writes to ``path`` (a training rule's ``output.model``)."""
        try:
            return self._by_path[str(path)]
        except KeyError:
            raise LayoutError(f"{path}: not a model of this config") from None

    def finetuned_ids(self, recipes: Iterable[str]) -> list[str]:
        """The ids of the models fine-tuned on ``recipes``, in :attr:`models` order."""
        wanted = set(recipes)
        return [m.id for m in self.models.values() if m.order is not None and m.recipe in wanted]

    def generated(self, split: str, net: str) -> list[tuple[str, str]]:
        """(images, scored table) of every method family that ``net`` generates on ``split``."""
        return [
            (self.paths.adv_images(split, net, family), self.paths.adv_scored(split, net, family))
            for family in self.generation[split]
        ]

    def recipe_inputs(self, recipe: str, net: str) -> dict[str, str]:
        """The generated images a recipe draws from; none for the clean control."""
        chosen = self.recipes[recipe]
        if not chosen.adversarial:
            return {}
        return {
            "images": self.paths.adv_images("train", net, chosen.method),
            "table": self.paths.adv_scored("train", net, chosen.method),
        }


class MnistLayout(Layout):
    """Sections 5.1-5.2: LeNets numbered by seed, the held-out set, Table 1, Figures 2, 4-6."""

    dataset = "mnist"
    attack_splits = ("train", "test")
    scripts = {"finetune": "train_lenet.py", "evaluate": "evaluate_lenet.py"}

    def _base_nets(self) -> list[BaseNet]:
        return [BaseNet(f"net{seed}", int(seed)) for seed in self.config["base"]["seeds"]]

    def _finetune_nets(self) -> list[str]:
        return list(self.nets)

    def _bucket_names(self) -> list[str]:
        buckets = self.config["buckets"]
        if not buckets["enabled"]:
            return []
        return list(self.bucket_ranges())

    def bucket_ranges(self) -> dict[str, tuple[float, float]]:
        """Figure 6's recipes: ``{PASS-0.50-0.60: (0.5, 0.6), ...}``."""
        edges = self.config["buckets"]["edges"]
        return {bucket_name(lo, hi): (lo, hi) for lo, hi in zip(edges[:-1], edges[1:], strict=True)}

    def _generation_plan(self) -> dict[str, dict[str, dict]]:
        buckets = self.config["buckets"]
        return generation_plan(
            self.recipes.values(),
            heldout_types=self.config["heldout"]["types"],
            bucket_pool=buckets if buckets["enabled"] else None,
            heldout_delta=self.config["heldout"].get("delta", 0.0),
        )

    def _base_models(self) -> list[Model]:
        return [
            Model(BASE_ID.format(net=net.name), BASE_ROW, net.value, None, net.value, net.value)
            for net in self.nets.values()
        ]

    def _finetune_model(self, recipe: str, net: str, order: int) -> Model:
        value = self.nets[net].value
        model_id = FINETUNE_ID.format(recipe=recipe, net=net, order=order)
        return Model(model_id, recipe, value, order, parent_net=value, seed=order)

    def _baseline_models(self) -> list[Model]:
        if not self.config["infimnist"]["enabled"]:
            return []
        label = self.infimnist_label()
        return [
            Model(INFIMNIST_ID.format(net=name), label, seed, seed=seed)
            for name, seed in self.infimnist_nets().items()
        ]

    def infimnist_nets(self) -> dict[str, int]:
        """The augmentation baseline's nets, trained from scratch: ``{net1: 1, ...}``."""
        return {f"net{seed}": int(seed) for seed in self.config["infimnist"]["seeds"]}

    def infimnist_label(self) -> str:
        """The augmentation baseline's Table 1 row: ``InfiMNIST-style (1M)``."""
        count = self.config["infimnist"]["count"]
        size = f"{count // 1_000_000}M" if count % 1_000_000 == 0 else f"{count:,}"
        return f"{BASELINE_ROW_PREFIX} ({size})"

    def table1_recipes(self) -> list[str]:
        """Table 1's rows in order: the base nets, each fine-tuning recipe, the baseline."""
        return [BASE_ROW, *self.finetune_recipes, self.infimnist_label()]

    def attack_set(self, split: str, net: str) -> str:
        return self.paths.mnist(split)

    def attack_limit(self, split: str, net: str) -> int | None:
        # the training split is drawn (attack_draw), the test split cut to its first N
        return self.config["attack"]["test_images"] if split == "test" else None

    def attack_draw(self, split: str) -> dict[str, int | float] | None:
        count = self.config["attack"]["train_images"]
        if split != "train" or count is None:
            return None
        return {"count": count, "seed": self.config["attack"].get("seed", 0)}

    def finetune_inputs(self, recipe: str, net: str) -> dict[str, str]:
        # fine-tuning continues the base net's solver: weights, momentum, iteration count
        return {
            "train": self.paths.mnist("train"),
            "added": self.paths.trainset(recipe, net),
            "test": self.paths.mnist("test"),
            "init": self.paths.solver(BASE_ID.format(net=net)),
        }

    def finetune_iterations(self) -> int:
        return self.config["base"]["iterations"] + self.config["finetune"]["iterations"]

    def finetune_solver(self) -> dict[str, Any]:
        return self.config["solver"]

    def evaluate_inputs(self, model_id: str) -> dict[str, str]:
        return {
            "model": self.paths.model(model_id),
            "test": self.paths.mnist("test"),
            "heldout": self.paths.heldout_set(),
            "heldout_table": self.paths.heldout_table(),
        }


class ImagenetLayout(Layout):
    """Section 5.3: named torchvision networks attacking selected training crops, Figure 3."""

    dataset = "imagenet"
    attack_splits = ("train",)
    scripts = {"finetune": "finetune_classifier.py", "evaluate": "evaluate_classifier.py"}

    def __init__(self, config: dict[str, Any]) -> None:
        self.imagenet = config["imagenet"]
        super().__init__(config)

    def _base_nets(self) -> list[BaseNet]:
        return [BaseNet(name, name) for name in self.imagenet["nets"]]

    def _finetune_nets(self) -> list[str]:
        unknown = [net for net in self.imagenet["finetune_nets"] if net not in self.nets]
        if unknown:
            raise LayoutError(
                f"key imagenet.finetune_nets: {', '.join(unknown)} not in "
                f"imagenet.nets ({', '.join(self.nets)})"
            )
        return list(self.imagenet["finetune_nets"])

    def _generation_plan(self) -> dict[str, dict[str, dict]]:
        # the recipes and Figure 3's types, all on the selected training crops
        return generation_plan(
            self.recipes.values(), heldout_types=(), gallery=self.imagenet["gallery_types"]
        )

    def _base_models(self) -> list[Model]:
        return [Model(BASE_ID.format(net=name), BASE_ROW, name) for name in self.nets]

    def _finetune_model(self, recipe: str, net: str, order: int) -> Model:
        model_id = FINETUNE_ID.format(recipe=recipe, net=net, order=order)
        return Model(model_id, recipe, net, order, seed=order)

    def attack_set(self, split: str, net: str) -> str:
        return self.paths.selected(net)

    def attack_limit(self, split: str, net: str) -> int | None:
        # the fine-tuned networks attack every selected crop, the others only Figure 3's few
        return None if net in self.finetune_nets else self.imagenet["gallery_images"]

    def finetune_inputs(self, recipe: str, net: str) -> dict[str, str]:
        return {
            "train": self.paths.imagenet_index("train"),
            "added": self.paths.trainset(recipe, net),
            "init": self.paths.model(BASE_ID.format(net=net)),
        }

    def finetune_iterations(self) -> int:
        return self.config["finetune"]["iterations"]

    def finetune_solver(self) -> dict[str, Any]:
        return self.imagenet["solver"]

    def evaluate_inputs(self, model_id: str) -> dict[str, str]:
        return {"model": self.paths.model(model_id), "test": self.paths.imagenet_index("val")}

    def weights(self, net: str) -> str:
        """What import_model loads: a file, ``torchvision``, or the random_weights rule's file."""
        weights = self.imagenet["nets"][net]["weights"]
        return self.paths.random_weights(net) if weights == "random" else weights


LAYOUTS: dict[str, type[Layout]] = {cls.dataset: cls for cls in (MnistLayout, ImagenetLayout)}


def layout_from_config(config: dict[str, Any]) -> Layout:
    """The layout of the experiment that the config's ``dataset`` key names."""
    dataset = config.get("dataset")
    if dataset not in LAYOUTS:
        raise LayoutError(f"key dataset: {dataset!r} is not one of {', '.join(LAYOUTS)}")
    return LAYOUTS[dataset](config)
