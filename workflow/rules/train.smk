# MNIST's LeNets trained from scratch: the base nets, and the augmentation baseline (the
# same rule on the original plus the InfiMNIST-style images, for longer).
# Trained models are protected(): Snakemake refuses to delete or overwrite them (at paper
# scale each is hours of training); remove one by hand to have it trained again.


rule train_base:
    input:
        train=PATHS.mnist("train"),
        test=PATHS.mnist("test"),
    output:
        model=protected(PATHS.model(BASE_ID)),
        solver=protected(PATHS.solver(BASE_ID)),
    log:
        PATHS.log("train_base", "{net}"),
    benchmark:
        PATHS.benchmark("train_base", "{net}")
    wildcard_constraints:
        net=LAYOUT.net_pattern,
    conda:
        "../../envs/hardpos.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        seed=training_seed,
        iterations=config["base"]["iterations"],
        checkpoint_every=config["base"]["checkpoint_every"],
        checkpoint=training_checkpoint,
        extra_fraction=None,
        solver=config["solver"],
        device=config["device"],
    script:
        "../scripts/train_lenet.py"


use rule train_base as train_infimnist with:
    input:
        train=PATHS.mnist("train"),
        augmented=PATHS.infimnist_set(),
        test=PATHS.mnist("test"),
    output:
        model=protected(PATHS.model(INFIMNIST_ID)),
        solver=protected(PATHS.solver(INFIMNIST_ID)),
    log:
        PATHS.log("train_infimnist", "{net}"),
    benchmark:
        PATHS.benchmark("train_infimnist", "{net}")
    wildcard_constraints:
        net=one_of(LAYOUT.infimnist_nets()),
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    params:
        iterations=config["infimnist"]["iterations"],
