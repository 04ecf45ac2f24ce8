# Inputs and parameters that depend on a job's wildcards: each asks the layout.


def recipe_inputs(wildcards):
    """The generated images a recipe draws from; none for the clean control."""
    return LAYOUT.recipe_inputs(wildcards.recipe, wildcards.net)


def finetune_inputs(wildcards):
    """The data, the recipe's images and what fine-tuning starts from."""
    return LAYOUT.finetune_inputs(wildcards.recipe, wildcards.net)


def evaluate_inputs(wildcards):
    """A model and its test data (MNIST: and the held-out adversarial set)."""
    return LAYOUT.evaluate_inputs(wildcards.model)


def training_seed(wildcards, output):
    """A training rule's seed: the model's, as the layout listed it."""
    return LAYOUT.model_at(output.model).seed


def training_checkpoint(wildcards, output):
    """Where a training rule keeps its in-progress state (resumed after a kill)."""
    return PATHS.checkpoint(LAYOUT.model_at(output.model).id)


def net_value(wildcards):
    """The base net as tables record it (MNIST's net1 is 1, ImageNet's googlenet itself)."""
    return LAYOUT.net_value(wildcards.net)


def weights_input(wildcards):
    """ImageNet: the weights file import_model reads (none for torchvision's download)."""
    weights = LAYOUT.weights(wildcards.net)
    return {} if weights == "torchvision" else {"weights": weights}
