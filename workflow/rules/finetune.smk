rule finetune:
    input:
        train=dataset_path("train"),
        added=trainset_path("{recipe}", "{net}"),
        test=dataset_path("test"),
        init=finetune_init("{net}"),
    output:
        model=model_file(f"finetune/{{recipe}}/{NET_PREFIX}{{net}}-order{{order}}"),
        solver=solver_file(f"finetune/{{recipe}}/{NET_PREFIX}{{net}}-order{{order}}"),
    log:
        log_path("finetune", f"{{recipe}}-{NET_PREFIX}{{net}}-order{{order}}"),
    params:
        seed=lambda wc: int(wc.order),
        iterations=finetune_iterations(),
        checkpoint_every=config["finetune"]["checkpoint_every"],
        checkpoint=lambda wc: checkpoint_file(
            f"finetune/{wc.recipe}/{NET_PREFIX}{wc.net}-order{wc.order}"
        ),
        extra_fraction=config["finetune"]["extra_fraction"],
        solver=finetune_solver(),
        objective=lambda wc: (
            RECIPES[wc.recipe].objective_settings() if wc.recipe in RECIPES else None
        ),
        workers=config["finetune"].get("workers", 0),
        device=config["device"],
    wildcard_constraints:
        recipe=one_of(FINETUNE_RECIPES),
        net=NET_PATTERN,
        order=r"\d+",
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/train.py"
