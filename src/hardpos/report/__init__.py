"""Table 1, the paper's side-by-side, held-out error by type, Figures 2 to 6 and the
ImageNet section 5.3 table, from the evaluation records and generated tables.

May import :mod:`hardpos.experiments` (recipes, type names) and everything below it.
"""
