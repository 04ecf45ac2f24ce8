# Paths and the generation plan, built once: a rule never assembles a path by hand.

import re

from hardpos.errors import HardposError
from hardpos.recipes import bucket_name, generation_plan, parse_recipes

RESULTS = config["results"]

try:
    RECIPES = {recipe.name: recipe for recipe in parse_recipes(config["recipes"])}
except HardposError as error:
    raise WorkflowError(f"config: {error}") from None

BUCKETS = config["buckets"]
_edges = BUCKETS["edges"]
BUCKET_NAMES = (
    [bucket_name(lo, hi) for lo, hi in zip(_edges[:-1], _edges[1:])]
    if BUCKETS["enabled"]
    else []
)
PLAN = generation_plan(
    RECIPES.values(),
    heldout_types=config["heldout"]["types"],
    bucket_pool=BUCKETS if BUCKETS["enabled"] else None,
)
FINETUNE_RECIPES = [*RECIPES, *BUCKET_NAMES]
INFIMNIST = config["infimnist"]


def one_of(names):
    """A wildcard constraint matching exactly these names."""
    return "|".join(re.escape(name) for name in names) or "(?!)"


def dataset_path(split):
    return f"{RESULTS}/data/mnist-{split}.npz"


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
    return f"{RESULTS}/adversarials/{split}/net{net}/{family}/images.npz"


def adv_table(split, net, family):
    return f"{RESULTS}/adversarials/{split}/net{net}/{family}/table.parquet"


def adv_scored(split, net, family):
    return f"{RESULTS}/adversarials/{split}/net{net}/{family}/scored.parquet"


def trainset_path(recipe, net):
    return f"{RESULTS}/trainsets/{recipe}/net{net}.npz"


def heldout_set():
    return f"{RESULTS}/heldout/heldout.npz"


def heldout_table():
    return f"{RESULTS}/heldout/heldout.parquet"


def evaluation(model_id):
    return f"{RESULTS}/eval/{model_id}.json"


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
    ids = [f"base/net{net}" for net in base_nets()]
    ids += [
        f"finetune/{recipe}/net{net}-order{order}"
        for recipe in FINETUNE_RECIPES
        for net in base_nets()
        for order in config["finetune"]["orders"]
    ]
    if INFIMNIST["enabled"]:
        ids += [f"infimnist/net{seed}" for seed in INFIMNIST["seeds"]]
    return ids


def model_meta(model_id):
    """Recipe, parent net and ordering of a model, for its evaluation record."""
    kind, *rest = model_id.split("/")
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


def all_targets():
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
