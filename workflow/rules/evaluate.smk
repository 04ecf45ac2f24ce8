# Every model's errors on the test data (MNIST: and on the held-out adversarial set). The
# stage differs by dataset, so the layout names the script.


rule evaluate:
    input:
        unpack(evaluate_inputs),
    output:
        metrics=PATHS.evaluation("{model}"),
    log:
        PATHS.log("evaluate", "{model}"),
    benchmark:
        PATHS.benchmark("evaluate", "{model}")
    wildcard_constraints:
        model=LAYOUT.model_pattern,
    conda:
        "../../envs/hardpos.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        meta=lambda wc: LAYOUT.model(wc.model).meta,
        device=config["device"],
        workers=config["finetune"].get("workers", 0),
        batch_size=config["imagenet"].get("eval_batch_size", 100),  # ImageNet crops a pass
    script:
        dataset_script("evaluate")
