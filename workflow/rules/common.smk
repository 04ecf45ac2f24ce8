# Paths, built once: a rule never assembles a path by hand.

RESULTS = config["results"]


def dataset_path(split):
    return f"{RESULTS}/data/mnist-{split}.npz"


def base_model(net):
    return f"{RESULTS}/models/base/net{net}.pt"


def base_checkpoint(net):
    return f"{RESULTS}/models/base/net{net}.ckpt"


def evaluation(kind, name):
    return f"{RESULTS}/eval/{kind}/{name}.json"


def log_path(rule, name):
    return f"{RESULTS}/logs/{rule}/{name}.log"


def base_nets():
    return config["base"]["seeds"]


def all_targets():
    return [evaluation("base", f"net{net}") for net in base_nets()]
