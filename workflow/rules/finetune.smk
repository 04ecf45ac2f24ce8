# Fine-tuning: each base net, on each recipe's images added to its training data, once per
# data order. The stage differs by dataset (a LeNet continuing its solver, or an ImageNet
# classifier), so the layout names the script. Outputs protected() as in train.smk.


# finetune.nets_per_job > 1 (MNIST): the orderings of one (recipe, base net) are trained
# together, nets_per_job per job (hardpos.experiments.training_stages.train_nets); each net keeps
# its own model, sidecar and solver files. 1: one job per net.
FINETUNE_NETS_PER_JOB = config["finetune"].get("nets_per_job", 1)
FINETUNE_ORDER_GROUPS = [
    config["finetune"]["orders"][i : i + FINETUNE_NETS_PER_JOB]
    for i in range(0, len(config["finetune"]["orders"]), FINETUNE_NETS_PER_JOB)
]


if DATASET != "mnist" or FINETUNE_NETS_PER_JOB == 1:

    rule finetune:
        input:
            unpack(finetune_inputs),
        output:
            model=protected(PATHS.model(FINETUNE_ID)),
            solver=protected(PATHS.solver(FINETUNE_ID)),
        log:
            PATHS.log("finetune", "{recipe}-{net}-order{order}"),
        benchmark:
            PATHS.benchmark("finetune", "{recipe}-{net}-order{order}")
        wildcard_constraints:
            recipe=one_of(LAYOUT.finetune_recipes),
            net=one_of(LAYOUT.finetune_nets),
            order=r"\d+",
        conda:
            "../../envs/hardpos.yaml"
        threads: config["threads"]
        resources:
            gpu=1,
            mem_mb=grows_on_retry(8000),
        params:
            seed=training_seed,
            iterations=LAYOUT.finetune_iterations(),
            checkpoint_every=config["finetune"]["checkpoint_every"],
            checkpoint=training_checkpoint,
            extra_fraction=config["finetune"]["extra_fraction"],
            solver=LAYOUT.finetune_solver(),
            objective=lambda wc: (
                LAYOUT.recipes[wc.recipe].objective_settings()
                if wc.recipe in LAYOUT.recipes
                else None
            ),
            workers=config["finetune"].get("workers", 0),
            device=config["device"],
        script:
            dataset_script("finetune")

else:
    # stacked training has no adversarial objective (fgs-objective, pgd-at): refuse them
    # here rather than train those rows on clean data
    _objectives = [n for n, r in LAYOUT.recipes.items() if r.objective_settings()]
    if _objectives:
        raise WorkflowError(
            f"config key finetune.nets_per_job: {FINETUNE_NETS_PER_JOB} trains nets stacked, "
            f"which the adversarial objectives of recipes {', '.join(_objectives)} do not "
            "support; set finetune.nets_per_job: 1 or remove those recipes"
        )
    for index, group in enumerate(FINETUNE_ORDER_GROUPS):
        _tag = "-".join(map(str, group))

        rule:
            name:
                "finetune" if index == 0 else f"finetune_{index + 1}"
            input:
                unpack(finetune_inputs),
            output:
                models=[
                    protected(PATHS.model(FINETUNE_ID.replace("{order}", str(o)))) for o in group
                ],
                solvers=[
                    protected(PATHS.solver(FINETUNE_ID.replace("{order}", str(o)))) for o in group
                ],
            log:
                PATHS.log("finetune", f"{{recipe}}-{{net}}-orders{_tag}"),
            benchmark:
                PATHS.benchmark("finetune", f"{{recipe}}-{{net}}-orders{_tag}")
            wildcard_constraints:
                recipe=one_of(LAYOUT.finetune_recipes),
                net=one_of(LAYOUT.finetune_nets),
            conda:
                "../../envs/hardpos.yaml"
            threads: config["threads"]
            resources:
                gpu=1,
                mem_mb=grows_on_retry(8000),
            params:
                seeds=group,
                iterations=LAYOUT.finetune_iterations(),
                checkpoint_every=config["finetune"]["checkpoint_every"],
                # one checkpoint per stack: checkpoints/finetune/{recipe}/net1-orders1-2-3.ckpt
                checkpoint=lambda wc, tag=_tag: PATHS.checkpoint(
                    f"finetune/{wc.recipe}/{wc.net}-orders{tag}"
                ),
                extra_fraction=config["finetune"]["extra_fraction"],
                solver=LAYOUT.finetune_solver(),
                compile_step=config["finetune"].get("compile_step", False),
                device=config["device"],
            script:
                "../scripts/train_stacked.py"
