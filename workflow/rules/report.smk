rule table1:
    input:
        evaluations=[evaluation(model_id) for model_id in model_ids()],
        paper="config/paper_table1.yaml",
        robustness=ROBUSTNESS_RECORDS,
    output:
        table1_html=report(
            table_path("table1", "html"),
            caption="../report/table1.rst",
            category="Tables",
            labels={"table": "Table 1"},
        ),
        table1_csv=table_path("table1", "csv"),
        table1_md=table_path("table1", "md"),
        table1_tex=table_path("table1", "tex"),
        vs_paper_html=report(
            table_path("table1_vs_paper", "html"),
            caption="../report/table1_vs_paper.rst",
            category="Tables",
            labels={"table": "Table 1 beside the paper"},
        ),
        vs_paper_csv=table_path("table1_vs_paper", "csv"),
        vs_paper_md=table_path("table1_vs_paper", "md"),
        by_type_html=report(
            table_path("heldout_by_type", "html"),
            caption="../report/heldout_by_type.rst",
            category="Tables",
            labels={"table": "Held-out error by type"},
        ),
        by_type_csv=table_path("heldout_by_type", "csv"),
        by_type_md=table_path("heldout_by_type", "md"),
    log:
        log_path("table1", "table1"),
    params:
        recipe_order=["basic", *FINETUNE_RECIPES, infimnist_label()],
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/table1.py"


rule figure4:
    input:
        scored=[adv_scored("test", net, f) for net in base_nets() for f in PLAN["test"]],
    output:
        png=report(
            figure_path("fig4", "png"),
            caption="../report/fig4.rst",
            category="Figures",
            labels={"figure": "Figure 4"},
        ),
        pdf=figure_path("fig4", "pdf"),
    log:
        log_path("figures", "fig4"),
    params:
        types=config["heldout"]["types"],
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/figure4.py"


rule figure5:
    input:
        scored=[adv_scored("test", net, f) for net in base_nets() for f in PLAN["test"]],
    output:
        png=report(
            figure_path("fig5", "png"),
            caption="../report/fig5.rst",
            category="Figures",
            labels={"figure": "Figure 5"},
        ),
        pdf=figure_path("fig5", "pdf"),
    log:
        log_path("figures", "fig5"),
    params:
        types=config["heldout"]["types"],
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/figure5.py"


rule figure6:
    input:
        evaluations=[
            evaluation(f"finetune/{name}/net{net}-order{order}")
            for name in BUCKET_NAMES
            for net in base_nets()
            for order in config["finetune"]["orders"]
        ],
    output:
        png=report(
            figure_path("fig6", "png"),
            caption="../report/fig6.rst",
            category="Figures",
            labels={"figure": "Figure 6"},
        ),
        pdf=figure_path("fig6", "pdf"),
    log:
        log_path("figures", "fig6"),
    params:
        buckets={
            name: (lo, hi)
            for name, lo, hi in zip(BUCKET_NAMES, BUCKETS["edges"][:-1], BUCKETS["edges"][1:])
        },
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/figure6.py"


rule figure2:
    input:
        generated=[path for pair in generated("test", base_nets()[0]) for path in pair],
        dataset=mnist_path("test"),
    output:
        png=report(
            figure_path("fig2", "png"),
            caption="../report/fig2.rst",
            category="Figures",
            labels={"figure": "Figure 2"},
        ),
        pdf=figure_path("fig2", "pdf"),
    log:
        log_path("figures", "fig2"),
    params:
        generated=generated("test", base_nets()[0]),
        types=config["figures"]["gallery_types"],
    conda:
        "../../envs/hardpos.yaml"
    script:
        "../scripts/figure2.py"
