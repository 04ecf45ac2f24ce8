# Fine-tuning: each base net, on each recipe's images added to its training data, once per
# data order. The stage differs by dataset (a LeNet continuing its solver, or an ImageNet
# classifier), so the layout names the script. Outputs protected() as in train.smk.


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
        workers=config["finetune"].get("workers", 0),
        device=config["device"],
    script:
        dataset_script("finetune")
