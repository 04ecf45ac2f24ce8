rule finetune:
    input:
        train=dataset_path("train"),
        added=trainset_path("{recipe}", "{net}"),
        test=dataset_path("test"),
        init=solver_file("base/net{net}"),
    output:
        model=model_file("finetune/{recipe}/net{net}-order{order}"),
        solver=solver_file("finetune/{recipe}/net{net}-order{order}"),
    log:
        log_path("finetune", "{recipe}-net{net}-order{order}"),
    params:
        seed=lambda wc: int(wc.order),
        iterations=config["base"]["iterations"] + config["finetune"]["iterations"],
        checkpoint_every=config["finetune"]["checkpoint_every"],
        checkpoint=lambda wc: checkpoint_file(
            f"finetune/{wc.recipe}/net{wc.net}-order{wc.order}"
        ),
        extra_fraction=config["finetune"]["extra_fraction"],
        solver=config["solver"],
        device=config["device"],
    wildcard_constraints:
        recipe=one_of(FINETUNE_RECIPES),
        net=r"\d+",
        order=r"\d+",
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/train.py"
