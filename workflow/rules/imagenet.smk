# The ImageNet experiment (section 5.3, Figure 3): the ImageFolder tree indexed, the base
# networks imported and the training crops they classify correctly selected; the shared
# rules generate, score_pass, trainset, finetune and evaluate run on what these prepare.

IMAGENET = config["imagenet"]


localrules:
    table_imagenet,
    figure3,


# a tiny tree for smoke runs and tests, made only when the config asks for one
if IMAGENET["synthetic"]:

    rule synthetic_imagenet:
        output:
            tree=directory(config["imagenet_dir"]),
        log:
            PATHS.log("synthetic_imagenet", "tree"),
        benchmark:
            PATHS.benchmark("synthetic_imagenet", "tree")
        conda:
            "../../envs/hardpos.yaml"
        resources:
            mem_mb=1000,
        params:
            spec=IMAGENET["synthetic"],
        script:
            "../scripts/synthetic_imagenet.py"


rule index_imagenet:
    input:
        tree=config["imagenet_dir"],
    output:
        index=PATHS.imagenet_index("{split}"),
    log:
        PATHS.log("index_imagenet", "{split}"),
    benchmark:
        PATHS.benchmark("index_imagenet", "{split}")
    wildcard_constraints:
        split="train|val",
    conda:
        "../../envs/hardpos.yaml"
    resources:
        mem_mb=2000,
    params:
        resize=IMAGENET["resize"],
        crop=IMAGENET["crop"],
    script:
        "../scripts/index_imagenet.py"


rule random_weights:
    input:
        index=PATHS.imagenet_index("train"),
    output:
        weights=PATHS.random_weights("{net}"),
    log:
        PATHS.log("random_weights", "{net}"),
    benchmark:
        PATHS.benchmark("random_weights", "{net}")
    wildcard_constraints:
        net=LAYOUT.net_pattern,
    conda:
        "../../envs/hardpos.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        seed=IMAGENET["random_seed"],
        device=config["device"],
    script:
        "../scripts/random_weights.py"


rule import_model:
    input:
        unpack(weights_input),
        index=PATHS.imagenet_index("train"),
    output:
        model=PATHS.model(BASE_ID),
    log:
        PATHS.log("import_model", "{net}"),
    benchmark:
        PATHS.benchmark("import_model", "{net}")
    wildcard_constraints:
        net=LAYOUT.net_pattern,
    conda:
        "../../envs/hardpos.yaml"
    resources:
        mem_mb=4000,
    params:
        weights=lambda wc: LAYOUT.weights(wc.net),
    script:
        "../scripts/import_model.py"


rule select_images:
    input:
        model=PATHS.model(BASE_ID),
        index=PATHS.imagenet_index("train"),
    output:
        dataset=PATHS.selected("{net}"),
    log:
        PATHS.log("select_images", "{net}"),
    benchmark:
        PATHS.benchmark("select_images", "{net}")
    wildcard_constraints:
        net=LAYOUT.net_pattern,
    conda:
        "../../envs/hardpos.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=8000,
    params:
        per_class=IMAGENET["per_class"],
        batch_size=IMAGENET["eval_batch_size"],
        workers=config["finetune"].get("workers", 0),
        device=config["device"],
    script:
        "../scripts/select_images.py"


rule table_imagenet:
    input:
        evaluations=[PATHS.evaluation(model_id) for model_id in LAYOUT.models],
    output:
        csv=report(
            PATHS.table("imagenet", "csv"), caption="../report/imagenet.rst", category="ImageNet"
        ),
        md=PATHS.table("imagenet", "md"),
    log:
        PATHS.log("table_imagenet", "imagenet"),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/table_imagenet.py"


rule figure3:
    input:
        generated=[
            path for net in LAYOUT.nets for pair in LAYOUT.generated("train", net) for path in pair
        ],
        datasets=[PATHS.selected(net) for net in LAYOUT.nets],
    output:
        png=report(PATHS.figure("fig3", "png"), caption="../report/fig3.rst", category="ImageNet"),
        pdf=PATHS.figure("fig3", "pdf"),
    log:
        PATHS.log("figures", "fig3"),
    conda:
        "../../envs/hardpos.yaml"
    params:
        generated={net: LAYOUT.generated("train", net) for net in LAYOUT.nets},
        datasets={net: PATHS.selected(net) for net in LAYOUT.nets},
        types=IMAGENET["gallery_types"],
    script:
        "../scripts/figure3.py"


# what `rule all` asks for (targets.smk)
REPORTS = [rules.table_imagenet, rules.figure3]
