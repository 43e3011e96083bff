"""Code shared by the two Guess & Check checks (``width_theorem``, ``depth_theorem``).

Alexander, Slutzky, Ran-Milo, Cohen, "Do Neural Networks Need Gradient Descent to Generalize? A Theoretical
Study", NeurIPS 2025, arXiv 2506.03931. ``records``: problems, per-point generators and the join of G&C points
with their limits; ``baseline``: the GD baseline point and its claim; ``claims``: the claims the two checks
share; ``presets``: the paper's Figures 1–11 as parameter presets; ``figures``: the paper-layout figure;
``suite``: all figures in one command (``python -m verify.gnc_figures``). Nothing here imports the two check
folders except ``suite``, which nothing imports.
"""
