rule trainset:
    input:
        unpack(recipe_inputs),
    output:
        dataset=trainset_path("{recipe}", "{net}"),
    log:
        log_path("trainset", "{recipe}-net{net}"),
    params:
        recipe=lambda wc: RECIPES[wc.recipe],
    wildcard_constraints:
        recipe=one_of(RECIPES),
        net=NET_PATTERN,
    resources:
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/trainset.py"


rule trainset_buckets:
    input:
        images=adv_images("train", "{net}", BUCKETS["method"]),
        table=adv_scored("train", "{net}", BUCKETS["method"]),
    output:
        **{name: trainset_path(name, "{net}") for name in BUCKET_NAMES},
    log:
        log_path("trainset_buckets", "net{net}"),
    params:
        buckets=BUCKETS,
    wildcard_constraints:
        net=r"\d+",
    resources:
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/trainset_buckets.py"


rule heldout:
    input:
        generated=[path for net in base_nets() for pair in generated("test", net) for path in pair],
    output:
        dataset=heldout_set(),
        table=heldout_table(),
    log:
        log_path("heldout", "heldout"),
    params:
        generated={net: generated("test", net) for net in base_nets()},
        types=config["heldout"]["types"],
        per_type=config["heldout"]["per_type"],
        seed=config["heldout"]["seed"],
        allow_fewer=config["heldout"].get("allow_fewer", False),
    resources:
        mem_mb=grows_on_retry(8000),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/heldout.py"
