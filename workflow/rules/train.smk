rule train_base:
    input:
        train=mnist_path("train"),
        test=mnist_path("test"),
    output:
        model=model_file("base/net{net}"),
        solver=solver_file("base/net{net}"),
    log:
        log_path("train_base", "net{net}"),
    params:
        seed=lambda wc: int(wc.net),
        iterations=config["base"]["iterations"],
        checkpoint_every=config["base"]["checkpoint_every"],
        checkpoint=lambda wc: checkpoint_file(f"base/net{wc.net}"),
        extra_fraction=None,
        solver=config["solver"],
        device=config["device"],
    wildcard_constraints:
        net=r"\d+",
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/train.py"


rule train_infimnist:
    input:
        train=mnist_path("train"),
        augmented=infimnist_set(),
        test=mnist_path("test"),
    output:
        model=model_file("infimnist/net{net}"),
        solver=solver_file("infimnist/net{net}"),
    log:
        log_path("train_infimnist", "net{net}"),
    params:
        seed=lambda wc: int(wc.net),
        iterations=INFIMNIST["iterations"],
        checkpoint_every=config["base"]["checkpoint_every"],
        checkpoint=lambda wc: checkpoint_file(f"infimnist/net{wc.net}"),
        extra_fraction=None,
        solver=config["solver"],
        device=config["device"],
    wildcard_constraints:
        net=r"\d+",
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/train.py"
