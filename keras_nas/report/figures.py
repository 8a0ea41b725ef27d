"""Matplotlib figures of a report, embedded in its page as PNG data."""

import base64
import io
import math


def pyplot():
    """Matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt


def subplots(count, columns=3, width=4.2, height=3.2):
    """A figure of `count` axes in rows of `columns`; spare axes are hidden.

    Returns:
        `(figure, axes)`, `axes` a flat list of `count` axes.
    """
    columns = max(1, min(columns, count))
    rows = math.ceil(count / columns)
    figure, grid = pyplot().subplots(
        rows, columns, figsize=(width * columns, height * rows), squeeze=False
    )
    axes = [a for row in grid for a in row]
    for spare in axes[count:]:
        spare.set_visible(False)
    return figure, axes[:count]


def to_img(figure, alt):
    """Closes `figure` and returns an `<img>` tag holding it as a PNG.

    Args:
        figure: A matplotlib figure.
        alt: The image's text alternative (also a test's handle on it).
    """
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    pyplot().close(figure)
    return png_img(buffer.getvalue(), alt)


def png_img(data, alt):
    """An `<img>` tag holding PNG bytes `data` as a base64 data URI."""
    from html import escape

    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{encoded}">'


def short(label, limit=28):
    """A tick label cut to `limit` characters."""
    label = str(label)
    return label if len(label) <= limit else label[: limit - 1] + "…"
