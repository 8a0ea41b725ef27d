"""A heatmap of a DARTS search's architecture weights."""

import numpy as np


def save_alpha_heatmap(alphas, path, title="DARTS architecture weights"):
    """Draws decisions x operations, each cell the softmax weight, to a PNG.

    Args:
        alphas: `{decision: {operation: weight}}`, as `DartsSearch.alphas()`.
        path: The PNG file to write.
        title: The figure's title.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    decisions = list(alphas)
    operations = []
    for weights in alphas.values():
        operations += [op for op in weights if op not in operations]
    grid = np.full((len(decisions), len(operations)), np.nan)
    for row, decision in enumerate(decisions):
        for column, operation in enumerate(operations):
            if operation in alphas[decision]:
                grid[row, column] = alphas[decision][operation]
    figure, axes = pyplot.subplots(
        figsize=(1.4 + 1.3 * len(operations), 1.0 + 0.45 * len(decisions))
    )
    image = axes.imshow(grid, cmap="viridis", vmin=0.0, aspect="auto")
    axes.set_xticks(range(len(operations)), operations, rotation=30, ha="right")
    axes.set_yticks(range(len(decisions)), decisions)
    for row in range(len(decisions)):
        for column in range(len(operations)):
            if not np.isnan(grid[row, column]):
                axes.text(column, row, f"{grid[row, column]:.2f}", ha="center",
                          va="center", color="white", fontsize=8)
    axes.set_title(title)
    figure.colorbar(image, ax=axes, label="softmax weight")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
