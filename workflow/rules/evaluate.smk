rule evaluate_base:
    input:
        model=base_model("{net}"),
        test=dataset_path("test"),
    output:
        metrics=evaluation("base", "net{net}"),
    log:
        log_path("evaluate_base", "net{net}"),
    params:
        device=config["device"],
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=2000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/evaluate.py"
