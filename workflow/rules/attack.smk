from hardpos.attacks.methods import FAMILIES

rule generate:
    input:
        model=base_model("{net}"),
        dataset=attack_set("{split}", "{net}"),
    output:
        images=adv_images("{split}", "{net}", "{family}"),
        table=adv_table("{split}", "{net}", "{family}"),
    log:
        log_path("generate", f"{{split}}-{NET_PREFIX}{{net}}-{{family}}"),
    params:
        k=lambda wc: PLAN[wc.split][wc.family]["k"],
        factors=lambda wc: PLAN[wc.split][wc.family]["factors"],
        limit=lambda wc: attack_limit(wc.split, wc.net),
        batch_size=config["attack"]["batch_size"],
        device=config["device"],
    wildcard_constraints:
        split=SPLIT_PATTERN,
        net=NET_PATTERN,
        family="|".join(FAMILIES),
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/generate.py"
