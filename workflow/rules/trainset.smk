# Fine-tuning images: one recipe's for one base net, and Figure 6's PASS-range buckets.


rule trainset:
    input:
        unpack(recipe_inputs),
    output:
        dataset=PATHS.trainset("{recipe}", "{net}"),
    log:
        PATHS.log("trainset", "{recipe}-{net}"),
    benchmark:
        PATHS.benchmark("trainset", "{recipe}-{net}")
    wildcard_constraints:
        recipe=one_of(LAYOUT.recipes),
        net=LAYOUT.net_pattern,
    conda:
        "../../envs/hardpos.yaml"
    resources:
        mem_mb=grows_on_retry(8000),
    params:
        recipe=lambda wc: LAYOUT.recipes[wc.recipe],
        net=net_value,
    script:
        "../scripts/trainset.py"


if LAYOUT.bucket_names:

    rule trainset_buckets:
        input:
            images=PATHS.adv_images("train", "{net}", config["buckets"]["method"]),
            table=PATHS.adv_scored("train", "{net}", config["buckets"]["method"]),
        output:
            **{name: PATHS.trainset(name, "{net}") for name in LAYOUT.bucket_names},
        log:
            PATHS.log("trainset_buckets", "{net}"),
        benchmark:
            PATHS.benchmark("trainset_buckets", "{net}")
        wildcard_constraints:
            net=LAYOUT.net_pattern,
        conda:
            "../../envs/hardpos.yaml"
        resources:
            mem_mb=grows_on_retry(8000),
        params:
            buckets=config["buckets"],
            net=net_value,
        script:
            "../scripts/trainset_buckets.py"
