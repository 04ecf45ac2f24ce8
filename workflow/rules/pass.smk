# The PASS score of every generated image against its original.


rule score_pass:
    input:
        images=PATHS.adv_images("{split}", "{net}", "{family}"),
        table=PATHS.adv_table("{split}", "{net}", "{family}"),
        dataset=LAYOUT.attack_set("{split}", "{net}"),
    output:
        table=PATHS.adv_scored("{split}", "{net}", "{family}"),
    log:
        PATHS.log("score_pass", "{split}-{net}-{family}"),
    benchmark:
        PATHS.benchmark("score_pass", "{split}-{net}-{family}")
    wildcard_constraints:
        split=one_of(LAYOUT.attack_splits),
        net=LAYOUT.net_pattern,
    conda:
        "../../envs/hardpos.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=grows_on_retry(8000),
    params:
        backend=config["pass"]["backend"],
        batch_size=config["pass"]["batch_size"],
        device=config["device"],
    script:
        "../scripts/score_pass.py"
