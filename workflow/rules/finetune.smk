# finetune.nets_per_job > 1 (MNIST): the orderings of one (recipe, base net) are trained
# together, nets_per_job per job (hardpos.experiments.networks.train_nets); each net keeps
# its own model, sidecar and solver files. 1: one job per net.
FINETUNE_NETS_PER_JOB = config["finetune"].get("nets_per_job", 1)
FINETUNE_ORDER_GROUPS = [
    config["finetune"]["orders"][i : i + FINETUNE_NETS_PER_JOB]
    for i in range(0, len(config["finetune"]["orders"]), FINETUNE_NETS_PER_JOB)
]


if DATASET != "mnist" or FINETUNE_NETS_PER_JOB == 1:

    rule finetune:
        input:
            train=dataset_path("train"),
            added=trainset_path("{recipe}", "{net}"),
            test=dataset_path("test"),
            init=finetune_init("{net}"),
        output:
            model=model_file(f"finetune/{{recipe}}/{NET_PREFIX}{{net}}-order{{order}}"),
            solver=solver_file(f"finetune/{{recipe}}/{NET_PREFIX}{{net}}-order{{order}}"),
        log:
            log_path("finetune", f"{{recipe}}-{NET_PREFIX}{{net}}-order{{order}}"),
        params:
            seed=lambda wc: int(wc.order),
            iterations=finetune_iterations(),
            checkpoint_every=config["finetune"]["checkpoint_every"],
            checkpoint=lambda wc: checkpoint_file(
                f"finetune/{wc.recipe}/{NET_PREFIX}{wc.net}-order{wc.order}"
            ),
            extra_fraction=config["finetune"]["extra_fraction"],
            solver=finetune_solver(),
            objective=lambda wc: (
                RECIPES[wc.recipe].objective_settings() if wc.recipe in RECIPES else None
            ),
            workers=config["finetune"].get("workers", 0),
            device=config["device"],
        wildcard_constraints:
            recipe=one_of(FINETUNE_RECIPES),
            net=NET_PATTERN,
            order=r"\d+",
        threads: config["threads"]
        resources:
            gpu=1,
            mem_mb=grows_on_retry(8000),
        conda:
            "../../envs/hardpos.yaml"
        script:
            "../scripts/train.py"

else:
    # stacked training has no adversarial objective (fgs-objective, pgd-at): refuse them here
    # rather than train those rows on clean data
    _objectives = [name for name, recipe in RECIPES.items() if recipe.objective_settings()]
    if _objectives:
        raise WorkflowError(
            f"config key finetune.nets_per_job: {FINETUNE_NETS_PER_JOB} trains nets stacked, "
            f"which the adversarial objectives of recipes {', '.join(_objectives)} do not "
            "support; set finetune.nets_per_job: 1 or remove those recipes"
        )
    for index, group in enumerate(FINETUNE_ORDER_GROUPS):

        rule:
            name:
                "finetune" if index == 0 else f"finetune_{index + 1}"
            input:
                train=dataset_path("train"),
                added=trainset_path("{recipe}", "{net}"),
                test=dataset_path("test"),
                init=finetune_init("{net}"),
            output:
                models=[
                    model_file(f"finetune/{{recipe}}/{NET_PREFIX}{{net}}-order{o}") for o in group
                ],
                solvers=[
                    solver_file(f"finetune/{{recipe}}/{NET_PREFIX}{{net}}-order{o}") for o in group
                ],
            log:
                log_path(
                    "finetune",
                    f"{{recipe}}-{NET_PREFIX}{{net}}-orders{'-'.join(map(str, group))}",
                ),
            params:
                seeds=group,
                iterations=finetune_iterations(),
                checkpoint_every=config["finetune"]["checkpoint_every"],
                # one checkpoint per stack: finetune/{recipe}/net{net}-orders1-2-3.ckpt
                checkpoint=lambda wc, tag="-".join(map(str, group)): checkpoint_file(
                    f"finetune/{wc.recipe}/{NET_PREFIX}{wc.net}-orders{tag}"
                ),
                extra_fraction=config["finetune"]["extra_fraction"],
                solver=finetune_solver(),
                compile_step=config["finetune"].get("compile_step", False),
                device=config["device"],
            wildcard_constraints:
                recipe=one_of(FINETUNE_RECIPES),
                net=NET_PATTERN,
            threads: config["threads"]
            resources:
                gpu=1,
                mem_mb=grows_on_retry(8000),
            conda:
                "../../envs/hardpos.yaml"
            script:
                "../scripts/train_stacked.py"
