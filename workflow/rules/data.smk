# MNIST's data: the two splits as dataset files, and the InfiMNIST-style deformed set.


rule prepare_mnist:
    output:
        dataset=PATHS.mnist("{split}"),
    log:
        PATHS.log("prepare_mnist", "{split}"),
    benchmark:
        PATHS.benchmark("prepare_mnist", "{split}")
    wildcard_constraints:
        split="train|test",
    conda:
        "../../envs/hardpos.yaml"
    resources:
        mem_mb=2000,
    params:
        mnist_dir=config["mnist_dir"],
        download=config["download"],
    script:
        "../scripts/prepare_mnist.py"


rule augment:
    input:
        train=PATHS.mnist("train"),
    output:
        dataset=PATHS.infimnist_set(),
    log:
        PATHS.log("augment", "infimnist-style"),
    benchmark:
        PATHS.benchmark("augment", "infimnist-style")
    conda:
        "../../envs/hardpos.yaml"
    resources:
        mem_mb=grows_on_retry(4000),
    params:
        images=config["infimnist"]["count"],
        seed=config["infimnist"]["seed"],
    script:
        "../scripts/augment.py"
