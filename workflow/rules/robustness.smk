# Beyond the paper: robustness of every MNIST model under strong attacks (adv-lib):
# robust accuracy at each L-inf budget and the median minimal norms, one JSON per model,
# read by Table 1 and drawn in the robust-accuracy figure. Hooks elsewhere: rule all asks
# for robustness_targets(); rule table1 takes robustness_records() as input `robustness`.

ROBUSTNESS = config.get("robustness") or {"enabled": False}
ROBUSTNESS_ON = bool(ROBUSTNESS.get("enabled")) and DATASET == "mnist"


def robustness_record(model_id):
    """model_id: base/net1, finetune/PGD-AT/net1-order2 or infimnist/net1."""
    return f"{RESULTS}/robustness/{model_id}.json"


def robustness_records():
    return [robustness_record(m) for m in model_ids()] if ROBUSTNESS_ON else []


def robustness_targets():
    if not ROBUSTNESS_ON:
        return []
    return [figure_path("robust_accuracy", ext) for ext in ("png", "pdf")]


def robustness_attack():
    """The fixed-budget attack's settings (hardpos.robustness.BudgetAttack)."""
    keys = ("attack", "loss", "steps", "restarts", "step_size")
    return {key: ROBUSTNESS[key] for key in keys if key in ROBUSTNESS}


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
        attack=robustness_attack(),
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
        records=robustness_records(),
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
