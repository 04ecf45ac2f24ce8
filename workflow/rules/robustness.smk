# Beyond the paper: robustness of every MNIST model under strong attacks (adv-lib):
# robust accuracy at each L-inf budget and the median minimal norms, one JSON per model,
# read by Table 1 (rule table1's input `robustness`) and drawn in the robust-accuracy
# figure, which joins REPORTS (what `rule all` asks for). Included before report.smk.

ROBUSTNESS = config.get("robustness") or {"enabled": False}
ROBUSTNESS_ON = bool(ROBUSTNESS.get("enabled"))
ROBUSTNESS_RECORDS = [PATHS.robustness(m) for m in LAYOUT.models] if ROBUSTNESS_ON else []
# the fixed-budget attack's settings (hardpos.robustness.BudgetAttack)
ROBUSTNESS_ATTACK = {
    key: ROBUSTNESS[key]
    for key in ("attack", "loss", "steps", "restarts", "step_size")
    if key in ROBUSTNESS
}


rule robustness:
    input:
        model=PATHS.model("{model}"),
        test=PATHS.mnist("test"),
    output:
        record=PATHS.robustness("{model}"),
    log:
        PATHS.log("robustness", "{model}"),
    benchmark:
        PATHS.benchmark("robustness", "{model}")
    wildcard_constraints:
        model=LAYOUT.model_pattern,
    conda:
        "../../envs/hardpos.yaml"
    threads: config["threads"]
    resources:
        gpu=1,
        mem_mb=4000,
    params:
        images=ROBUSTNESS.get("images"),
        linf=ROBUSTNESS.get("linf"),
        attack=ROBUSTNESS_ATTACK,
        min_norm=ROBUSTNESS.get("min_norm"),
        batch_size=ROBUSTNESS.get("batch_size", 1000),
        seed=ROBUSTNESS.get("seed", 0),
        meta=lambda wc: LAYOUT.model(wc.model).meta,
        device=config["device"],
    script:
        "../scripts/robustness.py"


if ROBUSTNESS_ON:

    localrules:
        figure_robust_accuracy,

    rule figure_robust_accuracy:
        input:
            records=ROBUSTNESS_RECORDS,
        output:
            png=report(
                PATHS.figure("robust_accuracy", "png"),
                caption="../report/robust_accuracy.rst",
                category="Beyond the paper",
                labels={"figure": "Robust accuracy"},
            ),
            pdf=PATHS.figure("robust_accuracy", "pdf"),
        log:
            PATHS.log("figures", "robust_accuracy"),
        conda:
            "../../envs/hardpos.yaml"
        params:
            recipe_order=LAYOUT.table1_recipes(),
        script:
            "../scripts/figure_robust_accuracy.py"
