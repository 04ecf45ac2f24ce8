rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        metrics=evaluation("{model}"),
    log:
        log_path("evaluate", "{model}"),
    params:
        meta=lambda wc: model_meta(wc.model),
        device=config["device"],
        workers=config["finetune"].get("workers", 0),
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
