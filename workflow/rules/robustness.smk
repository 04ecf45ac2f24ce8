# Beyond the paper: robustness of every MNIST model under strong attacks (adv-lib):
# robust accuracy at each L-inf budget and the median minimal norms, one JSON per model,
# read by Table 1 and drawn in the robust-accuracy figure. Hooks elsewhere: common.smk's
# robustness_record(model_id) (the path), rule all asks for ROBUSTNESS_TARGETS, rule
# table1 takes ROBUSTNESS_RECORDS as input `robustness`; the Snakefile includes this file
# before report.smk.

ROBUSTNESS = config.get("robustness") or {"enabled": False}
ROBUSTNESS_ON = bool(ROBUSTNESS.get("enabled")) and DATASET == "mnist"
ROBUSTNESS_RECORDS = [robustness_record(m) for m in model_ids()] if ROBUSTNESS_ON else []
ROBUSTNESS_TARGETS = (
    [figure_path("robust_accuracy", ext) for ext in ("png", "pdf")] if ROBUSTNESS_ON else []
)
# the fixed-budget attack's settings (hardpos.robustness.BudgetAttack)
ROBUSTNESS_ATTACK = {
    key: ROBUSTNESS[key]
    for key in ("attack", "loss", "steps", "restarts", "step_size")
    if key in ROBUSTNESS
}


rule robustness:
    input:
        model=model_file("{model}"),
        test=dataset_path("test"),
    output:
        record=robustness_record("{model}"),
    log:
        log_path("robustness", "{model}"),
    params:
        images=ROBUSTNESS.get("images"),
        linf=ROBUSTNESS.get("linf"),
        attack=ROBUSTNESS_ATTACK,
        min_norm=ROBUSTNESS.get("min_norm"),
        batch_size=ROBUSTNESS.get("batch_size", 1000),
        seed=ROBUSTNESS.get("seed", 0),
        meta=lambda wc: model_meta(wc.model),
        device=config["device"],
    wildcard_constraints:
        model=r"(base|finetune|infimnist)/.+",
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/robustness.py"


rule figure_robust_accuracy:
    input:
        records=ROBUSTNESS_RECORDS,
    output:
        png=report(
            figure_path("robust_accuracy", "png"),
            caption="../report/robust_accuracy.rst",
            category="Beyond the paper",
        ),
        pdf=figure_path("robust_accuracy", "pdf"),
    log:
        log_path("figures", "robust_accuracy"),
    params:
        recipe_order=["basic", *FINETUNE_RECIPES, infimnist_label()],
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/figure_robust_accuracy.py"
