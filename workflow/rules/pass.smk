rule score_pass:
    input:
        images=adv_images("{split}", "{net}", "{family}"),
        table=adv_table("{split}", "{net}", "{family}"),
        dataset=attack_set("{split}", "{net}"),
    output:
        table=adv_scored("{split}", "{net}", "{family}"),
    log:
        log_path("score_pass", f"{{split}}-{NET_PREFIX}{{net}}-{{family}}"),
    wildcard_constraints:
        split=SPLIT_PATTERN,
        net=NET_PATTERN,
    params:
        backend=config["pass"]["backend"],
        batch_size=config["pass"]["batch_size"],
        device=config["device"],
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/score_pass.py"
