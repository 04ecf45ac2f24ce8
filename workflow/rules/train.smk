rule train_base:
    input:
        train=dataset_path("train"),
        test=dataset_path("test"),
    output:
        model=base_model("{net}"),
        checkpoint=base_checkpoint("{net}"),
    log:
        log_path("train_base", "net{net}"),
    params:
        seed=lambda wc: int(wc.net),
        iterations=config["base"]["iterations"],
        checkpoint_every=config["base"]["checkpoint_every"],
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
        "../scripts/train_base.py"
