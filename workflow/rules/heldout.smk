# MNIST's held-out adversarial test set, drawn from every base net's test-split adversarials.


rule heldout:
    input:
        generated=[
            path for net in LAYOUT.nets for pair in LAYOUT.generated("test", net) for path in pair
        ],
    output:
        dataset=PATHS.heldout_set(),
        table=PATHS.heldout_table(),
    log:
        PATHS.log("heldout", "heldout"),
    benchmark:
        PATHS.benchmark("heldout", "heldout")
    conda:
        "../../envs/hardpos.yaml"
    resources:
        mem_mb=grows_on_retry(8000),
    params:
        generated={LAYOUT.net_value(net): LAYOUT.generated("test", net) for net in LAYOUT.nets},
        types=config["heldout"]["types"],
        per_type=config["heldout"]["per_type"],
        seed=config["heldout"]["seed"],
        allow_fewer=config["heldout"].get("allow_fewer", False),
        delta=config["heldout"].get("delta", 0.0),
    script:
        "../scripts/heldout.py"
