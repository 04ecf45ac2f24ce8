# The ImageNet branch (section 5.3, Figure 3); with `dataset: imagenet` the shared rules
# generate, score_pass, trainset, finetune and evaluate run on what these rules prepare.


# a tiny tree for smoke runs and tests, made only when the config asks for one
if IMAGENET["synthetic"]:

    rule synthetic_imagenet:
        output:
            tree=directory(config["imagenet_dir"]),
        log:
            log_path("synthetic_imagenet", "tree"),
        params:
            spec=IMAGENET["synthetic"],
        resources:
            mem_mb=1000,
        conda:
            "../../envs/hardpos.yaml"
        script:
            "../scripts/synthetic_imagenet.py"


rule index_imagenet:
    input:
        tree=config["imagenet_dir"],
    output:
        index=imagenet_index("{split}"),
    log:
        log_path("index_imagenet", "{split}"),
    params:
        resize=IMAGENET["resize"],
        crop=IMAGENET["crop"],
    wildcard_constraints:
        split="train|val",
    resources:
        mem_mb=2000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/index_imagenet.py"


rule random_weights:
    input:
        index=imagenet_index("train"),
    output:
        weights=random_weights_file("{net}"),
    log:
        log_path("random_weights", "{net}"),
    params:
        seed=IMAGENET["random_seed"],
        device=config["device"],
    wildcard_constraints:
        net=NET_PATTERN,
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/random_weights.py"


rule import_model:
    input:
        unpack(weights_input),
        index=imagenet_index("train"),
    output:
        model=base_model("{net}"),
    log:
        log_path("import_model", "{net}"),
    params:
        weights=lambda wc: weights_argument(wc.net),
    wildcard_constraints:
        net=NET_PATTERN,
    resources:
        mem_mb=4000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/import_model.py"


rule select_images:
    input:
        model=base_model("{net}"),
        index=imagenet_index("train"),
    output:
        dataset=selected_path("{net}"),
    log:
        log_path("select_images", "{net}"),
    params:
        per_class=IMAGENET["per_class"],
        batch_size=IMAGENET["eval_batch_size"],
        workers=config["finetune"].get("workers", 0),
        device=config["device"],
    wildcard_constraints:
        net=NET_PATTERN,
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=8000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/select_images.py"


rule table_imagenet:
    input:
        evaluations=[evaluation(model_id) for model_id in model_ids()],
    output:
        csv=report(
            table_path("imagenet", "csv"), caption="../report/imagenet.rst", category="ImageNet"
        ),
        md=table_path("imagenet", "md"),
    log:
        log_path("table_imagenet", "imagenet"),
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/table_imagenet.py"


rule figure3:
    input:
        generated=[path for net in NETS for pair in generated("train", net) for path in pair],
        datasets=[selected_path(net) for net in NETS],
    output:
        png=report(figure_path("fig3", "png"), caption="../report/fig3.rst", category="ImageNet"),
        pdf=figure_path("fig3", "pdf"),
    log:
        log_path("figures", "fig3"),
    params:
        generated={net: generated("train", net) for net in NETS},
        datasets={net: selected_path(net) for net in NETS},
        types=IMAGENET["gallery_types"],
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/figure3.py"
