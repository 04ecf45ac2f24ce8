# Paths and the generation plan, built once: a rule never assembles a path by hand.

import re

from hardpos.errors import HardposError
from hardpos.experiments.recipes import bucket_name, generation_plan, parse_recipes

RESULTS = config["results"]
# mnist (the default) or imagenet: which experiment `rule all` asks for. The shared rules
# (generate, score_pass, trainset, finetune, evaluate) take their inputs and parameters
# from the functions below, which read this.
DATASET = config["dataset"]
IMAGENET = config["imagenet"]

try:
    RECIPES = {recipe.name: recipe for recipe in parse_recipes(config["recipes"])}
except HardposError as error:
    raise WorkflowError(f"config: {error}") from None

BUCKETS = config["buckets"]
_edges = BUCKETS["edges"]
BUCKET_NAMES = (
    [bucket_name(lo, hi) for lo, hi in zip(_edges[:-1], _edges[1:])]
    if BUCKETS["enabled"] and DATASET == "mnist"
    else []
)
if DATASET == "mnist":
    PLAN = generation_plan(
        RECIPES.values(),
        heldout_types=config["heldout"]["types"],
        bucket_pool=BUCKETS if BUCKETS["enabled"] else None,
        heldout_delta=config["heldout"].get("delta", 0.0),
    )
else:  # the recipes and Figure 3's types, all on the selected training crops
    PLAN = generation_plan(
        RECIPES.values(), heldout_types=(), gallery=IMAGENET["gallery_types"]
    )
NETS = [str(n) for n in config["base"]["seeds"]] if DATASET == "mnist" else list(IMAGENET["nets"])
# MNIST's base nets are numbered (net1, net2, ...); ImageNet's are named (googlenet, ...)
NET_PREFIX = "net" if DATASET == "mnist" else ""
NET_PATTERN = r"\d+" if DATASET == "mnist" else "|".join(NETS)
SPLIT_PATTERN = "train|test" if DATASET == "mnist" else "train"
FINETUNE_NETS = NETS if DATASET == "mnist" else IMAGENET["finetune_nets"]
FINETUNE_RECIPES = [*RECIPES, *BUCKET_NAMES]
INFIMNIST = config["infimnist"]


def one_of(names):
    """A wildcard constraint matching exactly these names."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def mnist_path(split):
    return f"{RESULTS}/data/mnist-{split}.npz"


def imagenet_index(split):
    """An ImageFolder split as an index of files (crops are decoded on the fly)."""
    return f"{RESULTS}/data/imagenet-{split}.parquet"


def dataset_path(split):
    """A split of the dataset: train, and test (MNIST) or val (ImageNet)."""
    if DATASET == "mnist":
        return mnist_path(split)
    return imagenet_index("val" if split == "test" else split)


def selected_path(net):
    """ImageNet: the correctly classified training crops a network attacks."""
    return f"{RESULTS}/data/imagenet-selected-{net}.npz"


def attack_set(split, net):
    """The images a base net attacks on a split."""
    return dataset_path(split) if DATASET == "mnist" else selected_path(net)


def attack_limit(split, net):
    """How many of the first images of the attack set to attack (None: all)."""
    if DATASET == "mnist":
        return config["attack"]["test_images"] if split == "test" else None
    return None if net in FINETUNE_NETS else IMAGENET["gallery_images"]


def attack_draw(split):
    """MNIST training split: attack a seeded draw of attack.train_images (None: all)."""
    if DATASET != "mnist" or split != "train" or config["attack"]["train_images"] is None:
        return None
    return {"count": config["attack"]["train_images"], "seed": config["attack"].get("seed", 0)}


def weights_file(net):
    """ImageNet: the weights a base network is loaded from ("torchvision": downloaded)."""
    return IMAGENET["nets"][net]["weights"]


def random_weights_file(net):
    return f"{RESULTS}/weights/{net}-random.pth"


def base_model(net):
    return model_file(f"base/{NET_PREFIX}{net}")


def infimnist_set():
    return f"{RESULTS}/data/infimnist-style.npz"


def model_file(model_id):
    """model_id: base/net1, finetune/HC-D-9/net1-order2 or infimnist/net1."""
    return f"{RESULTS}/models/{model_id}.pt"


def solver_file(model_id):
    return f"{RESULTS}/models/{model_id}.solver.pt"


def checkpoint_file(model_id):
    """In-progress training state; not a rule output, so Snakemake never deletes it."""
    return f"{RESULTS}/checkpoints/{model_id}.ckpt"


def adv_images(split, net, family):
    return f"{RESULTS}/adversarials/{split}/{NET_PREFIX}{net}/{family}/images.npz"


def adv_table(split, net, family):
    return f"{RESULTS}/adversarials/{split}/{NET_PREFIX}{net}/{family}/table.parquet"


def adv_scored(split, net, family):
    return f"{RESULTS}/adversarials/{split}/{NET_PREFIX}{net}/{family}/scored.parquet"


def trainset_path(recipe, net):
    return f"{RESULTS}/trainsets/{recipe}/{NET_PREFIX}{net}.npz"


def heldout_set():
    return f"{RESULTS}/heldout/heldout.npz"


def heldout_table():
    return f"{RESULTS}/heldout/heldout.parquet"


def evaluation(model_id):
    return f"{RESULTS}/eval/{model_id}.json"


def robustness_record(model_id):
    """Beyond the paper: a model's strong-attack record (workflow/rules/robustness.smk)."""
    return f"{RESULTS}/robustness/{model_id}.json"


def table_path(name, ext):
    return f"{RESULTS}/tables/{name}.{ext}"


def figure_path(name, ext):
    return f"{RESULTS}/figures/{name}.{ext}"


def log_path(rule, name):
    return f"{RESULTS}/logs/{rule}/{name}.log"


def grows_on_retry(mem_mb):
    """``mem_mb`` on the first attempt, twice that on the second, ...: with ``--retries``
    (the SLURM profile sets it) a job killed for want of memory comes back with more."""
    return lambda wildcards, attempt: mem_mb * attempt


def base_nets():
    return config["base"]["seeds"]


def infimnist_label():
    count = INFIMNIST["count"]
    size = f"{count // 1_000_000}M" if count % 1_000_000 == 0 else f"{count:,}"
    return f"InfiMNIST-style ({size})"


def model_ids():
    """Every model the workflow trains, as evaluation names it."""
    ids = [f"base/{NET_PREFIX}{net}" for net in NETS]
    ids += [
        f"finetune/{recipe}/{NET_PREFIX}{net}-order{order}"
        for recipe in FINETUNE_RECIPES
        for net in FINETUNE_NETS
        for order in config["finetune"]["orders"]
    ]
    if INFIMNIST["enabled"] and DATASET == "mnist":
        ids += [f"infimnist/net{seed}" for seed in INFIMNIST["seeds"]]
    return ids


def model_meta(model_id):
    """Recipe, parent net and ordering of a model, for its evaluation record."""
    kind, *rest = model_id.split("/")
    if DATASET != "mnist":  # named networks: base/googlenet, finetune/HC-20/googlenet-order1
        if kind == "base":
            return {"recipe": "basic", "net": rest[0], "order": None, "parent_net": None}
        net, order = re.fullmatch(r"(.+)-order(\d+)", rest[1]).groups()
        return {"recipe": rest[0], "net": net, "order": int(order), "parent_net": None}
    if kind == "base":
        net = int(rest[0].removeprefix("net"))
        return {"recipe": "basic", "net": net, "order": None, "parent_net": net}
    if kind == "finetune":
        net, order = re.fullmatch(r"net(\d+)-order(\d+)", rest[1]).groups()
        return {"recipe": rest[0], "net": int(net), "order": int(order), "parent_net": int(net)}
    seed = int(rest[0].removeprefix("net"))
    return {"recipe": infimnist_label(), "net": seed, "order": None, "parent_net": None}


def generated(split, net):
    """(images, scored table) of every method family generated on ``split`` by ``net``."""
    return [(adv_images(split, net, f), adv_scored(split, net, f)) for f in PLAN[split]]


def recipe_inputs(wildcards):
    """The generated images a recipe draws from; none for the clean control."""
    recipe = RECIPES[wildcards.recipe]
    if not recipe.adversarial:
        return {}
    return {
        "images": adv_images("train", wildcards.net, recipe.method),
        "table": adv_scored("train", wildcards.net, recipe.method),
    }


def finetune_init(net):
    """What fine-tuning starts from: a LeNet's solver state, or an ImageNet base network."""
    return solver_file(f"base/net{net}") if DATASET == "mnist" else base_model(net)


def finetune_iterations():
    """The iteration counter fine-tuning ends at (MNIST continues the base net's solver)."""
    if DATASET == "mnist":
        return config["base"]["iterations"] + config["finetune"]["iterations"]
    return config["finetune"]["iterations"]


def finetune_solver():
    return config["solver"] if DATASET == "mnist" else IMAGENET["solver"]


def evaluate_inputs(wildcards):
    """A model, the test split and (MNIST) the held-out adversarial set."""
    inputs = {"model": model_file(wildcards.model), "test": dataset_path("test")}
    if DATASET == "mnist":
        inputs.update(heldout=heldout_set(), heldout_table=heldout_table())
    return inputs


def all_targets():
    if DATASET != "mnist":
        return imagenet_targets()
    targets = [evaluation(model_id) for model_id in model_ids()]
    targets += [table_path(name, ext) for name, ext in TABLE_OUTPUTS]
    targets += [figure_path(name, ext) for name in FIGURES for ext in ("png", "pdf")]
    return targets


TABLE_OUTPUTS = [
    ("table1", "csv"),
    ("table1", "md"),
    ("table1", "tex"),
    ("table1_vs_paper", "csv"),
    ("table1_vs_paper", "md"),
    ("heldout_by_type", "csv"),
    ("heldout_by_type", "md"),
]
FIGURES = ["fig2", "fig4", "fig5", *(["fig6"] if BUCKET_NAMES else [])]


def imagenet_targets():
    """Section 5.3's table and Figure 3."""
    targets = [evaluation(model_id) for model_id in model_ids()]
    targets += [table_path("imagenet", ext) for ext in ("csv", "md")]
    targets += [figure_path("fig3", ext) for ext in ("png", "pdf")]
    return targets


def weights_argument(net):
    """What import_model loads: a file, "torchvision", or the random_weights rule's file."""
    weights = weights_file(net)
    return random_weights_file(net) if weights == "random" else weights


def weights_input(wildcards):
    """The weights file as an input (none for torchvision's download)."""
    weights = weights_argument(wildcards.net)
    return {} if weights == "torchvision" else {"weights": weights}
