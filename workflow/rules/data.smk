rule prepare_mnist:
    output:
        dataset=mnist_path("{split}"),
    log:
        log_path("prepare_mnist", "{split}"),
    params:
        mnist_dir=config["mnist_dir"],
        download=config["download"],
    wildcard_constraints:
        split="train|test",
    resources:
        mem_mb=2000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/prepare_mnist.py"


rule augment:
    input:
        train=mnist_path("train"),
    output:
        dataset=infimnist_set(),
    log:
        log_path("augment", "infimnist-style"),
    params:
        images=INFIMNIST["count"],
        seed=INFIMNIST["seed"],
    resources:
        mem_mb=grows_on_retry(4000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/augment.py"
