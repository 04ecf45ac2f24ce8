# MNIST's tables and figures: Table 1 (with the paper's figures beside ours and the held-out
# error by type), Figures 2 and 4-6. They only tabulate and draw, so they run on the machine
# that runs Snakemake, never as cluster jobs.


localrules:
    table1,
    figure2,
    figure4,
    figure5,


rule table1:
    input:
        evaluations=[PATHS.evaluation(model_id) for model_id in LAYOUT.models],
        paper="config/paper_table1.yaml",
        robustness=ROBUSTNESS_RECORDS,
    output:
        table1_html=report(
            PATHS.table("table1", "html"),
            caption="../report/table1.rst",
            category="Tables",
            labels={"table": "Table 1"},
        ),
        table1_csv=PATHS.table("table1", "csv"),
        table1_md=PATHS.table("table1", "md"),
        table1_tex=PATHS.table("table1", "tex"),
        vs_paper_html=report(
            PATHS.table("table1_vs_paper", "html"),
            caption="../report/table1_vs_paper.rst",
            category="Tables",
            labels={"table": "Table 1 beside the paper"},
        ),
        vs_paper_csv=PATHS.table("table1_vs_paper", "csv"),
        vs_paper_md=PATHS.table("table1_vs_paper", "md"),
        by_type_html=report(
            PATHS.table("heldout_by_type", "html"),
            caption="../report/heldout_by_type.rst",
            category="Tables",
            labels={"table": "Held-out error by type"},
        ),
        by_type_csv=PATHS.table("heldout_by_type", "csv"),
        by_type_md=PATHS.table("heldout_by_type", "md"),
    log:
        PATHS.log("table1", "table1"),
    conda:
        "../../envs/hardpos.yaml"
    params:
        recipe_order=LAYOUT.table1_recipes(),
    script:
        "../scripts/table1.py"


# the base nets' test-split adversarials, every family (Figures 4 and 5)
TEST_SCORED = [
    PATHS.adv_scored("test", net, f) for net in LAYOUT.nets for f in LAYOUT.generation["test"]
]
# Figure 2 shows one test digit attacked by the first base net
FIRST_NET = next(iter(LAYOUT.nets))


rule figure2:
    input:
        generated=[path for pair in LAYOUT.generated("test", FIRST_NET) for path in pair],
        dataset=PATHS.mnist("test"),
    output:
        png=report(
            PATHS.figure("fig2", "png"),
            caption="../report/fig2.rst",
            category="Figures",
            labels={"figure": "Figure 2"},
        ),
        pdf=PATHS.figure("fig2", "pdf"),
    log:
        PATHS.log("figures", "fig2"),
    conda:
        "../../envs/hardpos.yaml"
    params:
        generated=LAYOUT.generated("test", FIRST_NET),
        types=config["figures"]["gallery_types"],
    script:
        "../scripts/figure2.py"


rule figure4:
    input:
        scored=TEST_SCORED,
    output:
        png=report(
            PATHS.figure("fig4", "png"),
            caption="../report/fig4.rst",
            category="Figures",
            labels={"figure": "Figure 4"},
        ),
        pdf=PATHS.figure("fig4", "pdf"),
    log:
        PATHS.log("figures", "fig4"),
    conda:
        "../../envs/hardpos.yaml"
    params:
        types=config["heldout"]["types"],
    script:
        "../scripts/figure4.py"


rule figure5:
    input:
        scored=TEST_SCORED,
    output:
        png=report(
            PATHS.figure("fig5", "png"),
            caption="../report/fig5.rst",
            category="Figures",
            labels={"figure": "Figure 5"},
        ),
        pdf=PATHS.figure("fig5", "pdf"),
    log:
        PATHS.log("figures", "fig5"),
    conda:
        "../../envs/hardpos.yaml"
    params:
        types=config["heldout"]["types"],
    script:
        "../scripts/figure5.py"


# what `rule all` asks for (targets.smk)
REPORTS = [rules.table1, rules.figure2, rules.figure4, rules.figure5]
if ROBUSTNESS_ON:  # robustness.smk's figure (beyond the paper)
    REPORTS.append(rules.figure_robust_accuracy)

if LAYOUT.bucket_names:

    localrules:
        figure6,

    rule figure6:
        input:
            evaluations=[
                PATHS.evaluation(model_id)
                for model_id in LAYOUT.finetuned_ids(LAYOUT.bucket_names)
            ],
        output:
            png=report(
                PATHS.figure("fig6", "png"),
                caption="../report/fig6.rst",
                category="Figures",
                labels={"figure": "Figure 6"},
            ),
            pdf=PATHS.figure("fig6", "pdf"),
        log:
            PATHS.log("figures", "fig6"),
        conda:
            "../../envs/hardpos.yaml"
        params:
            buckets=LAYOUT.bucket_ranges(),
        script:
            "../scripts/figure6.py"

    REPORTS.append(rules.figure6)
