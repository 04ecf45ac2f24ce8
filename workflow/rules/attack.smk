# Minimal adversarials and hard positives: one job per split, base net and method family.


rule generate:
    input:
        model=PATHS.model(BASE_ID),
        dataset=LAYOUT.attack_set("{split}", "{net}"),
    output:
        images=PATHS.adv_images("{split}", "{net}", "{family}"),
        table=PATHS.adv_table("{split}", "{net}", "{family}"),
    log:
        PATHS.log("generate", "{split}-{net}-{family}"),
    benchmark:
        PATHS.benchmark("generate", "{split}-{net}-{family}")
    wildcard_constraints:
        split=one_of(LAYOUT.attack_splits),
        net=LAYOUT.net_pattern,
        family=one_of(FAMILIES),
    conda:
        "../../envs/hardpos.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    params:
        net=net_value,
        k=lambda wc: LAYOUT.generation[wc.split][wc.family]["k"],
        factors=lambda wc: LAYOUT.generation[wc.split][wc.family]["factors"],
        limit=lambda wc: LAYOUT.attack_limit(wc.split, wc.net),
        draw=lambda wc: LAYOUT.attack_draw(wc.split),
        batch_size=config["attack"]["batch_size"],
        device=config["device"],
    script:
        "../scripts/generate.py"
