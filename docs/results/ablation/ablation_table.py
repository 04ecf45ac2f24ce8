"""The ablation's Markdown tables from phase B's delta_summary.csv."""

import sys

import pandas as pd

frame = pd.read_csv(sys.argv[1])
PAPER = {
    "basic": 64.21,
    "FGS": 31.06,
    "FGV": 29.61,
    "HC-D-5": 21.52,
    "HC-S-5": 29.29,
    "HC-D-9": 21.10,
    "HC-D-9-1.05": 14.85,
}
deltas = sorted(frame["delta"].unique())
order = [
    r
    for r in ["basic", "clean", "FGS", "FGV", "HC-D-5", "HC-S-5", "HC-D-9", "HC-D-9-1.05"]
    if r in set(frame["recipe"])
]
frame["mix3"] = frame["own"] / 3 + 2 * frame["other"] / 3
head = "| Row | nets | " + " | ".join(f"delta {d:g}" for d in deltas) + " | paper |"
lines = [head, "|---|---|" + "---|" * (len(deltas) + 1)]
for recipe in order:
    part = frame[frame["recipe"] == recipe].set_index("delta")
    n = int(part["networks"].iloc[0])
    cells = [
        f"**{part.loc[d, 'mix3']:.1f}** ({part.loc[d, 'own']:.1f} / {part.loc[d, 'other']:.1f})"
        for d in deltas
    ]
    paper = f"{PAPER[recipe]:.2f}" if recipe in PAPER else "–"
    lines.append(f"| {recipe} | {n} | " + " | ".join(cells) + f" | {paper} |")
print("\n".join(lines))
