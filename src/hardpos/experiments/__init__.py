"""The paper's experiment as plain functions of paths and config values, one module per
stage (preparation, adversarials, trainsets, networks, evaluation) and the recipes that
name Table 1's rows. Each workflow script calls one of these, so every rule can also be run
from Python without Snakemake. A stage's dataset (MNIST or ImageNet) is chosen by its
caller: there is one function per dataset where the two differ.

May import the algorithm packages (attacks, similarity, training, metrics), the dataset
packages (mnist, imagenet) and files; never report, workflow or cli.
"""
