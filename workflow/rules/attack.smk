rule generate:
    input:
        model=model_file("base/net{net}"),
        dataset=dataset_path("{split}"),
    output:
        images=adv_images("{split}", "{net}", "{family}"),
        table=adv_table("{split}", "{net}", "{family}"),
    log:
        log_path("generate", "{split}-net{net}-{family}"),
    params:
        k=lambda wc: PLAN[wc.split][wc.family]["k"],
        factors=lambda wc: PLAN[wc.split][wc.family]["factors"],
        limit=lambda wc: config["attack"][f"{wc.split}_images"],
        batch_size=config["attack"]["batch_size"],
        device=config["device"],
    wildcard_constraints:
        split="train|test",
        net=r"\d+",
        family="fgs|fgv|hc-d|hc-s",
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/generate.py"
