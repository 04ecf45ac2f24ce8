rule evaluate:
    input:
        model=lambda wc: model_file(wc.model),
        test=dataset_path("test"),
        heldout=heldout_set(),
        heldout_table=heldout_table(),
    output:
        metrics=evaluation("{model}"),
    log:
        log_path("evaluate", "{model}"),
    params:
        meta=lambda wc: model_meta(wc.model),
        device=config["device"],
    wildcard_constraints:
        model=r"(base|finetune|infimnist)/.+",
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/evaluate.py"
