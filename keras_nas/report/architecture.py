"""Diagrams of an architecture: a layer graph, or the NB201 cell as a DAG."""

import numpy as np

from keras_nas.report.figures import pyplot
from keras_nas.report.figures import to_img
from keras_nas.spaces.nb201 import EDGES
from keras_nas.spaces.nb201 import edge_name

_DETAILS = ("units", "filters", "kernel_size", "strides", "dilation_rate",
            "pool_size", "activation", "rate", "num_heads", "key_dim",
            "output_dim", "kind", "mode")
"""Config keys a layer's label shows (unless unset, linear or 1)."""


def layer_graph(model):
    """A functional model's layers and the connections between them.

    Read from the model's config (each layer's `inbound_nodes`), so it
    needs no private Keras names.

    Returns:
        `(layers, edges)`: `layers` a list of `(name, label)` in the
        model's order, `edges` a list of `(source index, target index)`.
    """
    config = model.get_config()
    layers, index, edges = [], {}, []
    for position, layer in enumerate(config["layers"]):
        index[layer["config"]["name"]] = position
        layers.append((layer["config"]["name"], _label(layer)))
        for source in _sources(layer.get("inbound_nodes", [])):
            if source in index:
                edges.append((index[source], position))
    return layers, edges


def _label(layer):
    config = layer["config"]
    if layer["class_name"] == "Bidirectional":  # The layer it runs each way.
        return f"Bidirectional {_label(config['layer'])}"
    details = []
    for key in _DETAILS:
        value = config.get(key)
        if value in (None, "linear", 1, (1,), [1]) or (key == "rate" and not value):
            continue
        if isinstance(value, (list, tuple)):
            value = "x".join(map(str, value))
        details.append(f"{key}={value}")
    if layer["class_name"] == "InputLayer":
        shape = config.get("batch_shape") or config.get("batch_input_shape")
        details = [f"shape={tuple(shape)[1:]}"] if shape else []
    return layer["class_name"] + (" " + ", ".join(details) if details else "")


def _sources(nodes):
    """The layer names in a layer's `inbound_nodes` (any nesting)."""
    if isinstance(nodes, dict):
        if "keras_history" in nodes:
            return [nodes["keras_history"][0]]
        return [name for value in nodes.values() for name in _sources(value)]
    if isinstance(nodes, (list, tuple)):
        return [name for value in nodes for name in _sources(value)]
    return []


def _layout(count, edges):
    """Rows and columns of a layer graph: its longest path in one column.

    Layers off that path (a skip connection's projection) go in a second
    column, spread between the path's layers they sit between.

    Returns:
        `(rows, columns)`, one float each per layer.
    """
    incoming = {t: [s for s, target in edges if target == t] for t in range(count)}
    length, previous = [0] * count, [None] * count
    for target in range(count):
        for source in incoming[target]:
            if length[source] + 1 > length[target]:
                length[target], previous[target] = length[source] + 1, source
    main, node = [], count - 1
    while node is not None:
        main.append(node)
        node = previous[node]
    main = sorted(main)
    rows, columns = [0.0] * count, [0.0] * count
    for row, node in enumerate(main):
        rows[node] = float(row)
    for row, (first, last) in enumerate(zip(main, main[1:])):
        side = list(range(first + 1, last))
        for k, node in enumerate(side):
            rows[node], columns[node] = row + (k + 1) / (len(side) + 1), 2.4
    return rows, columns


def layers_figure(layers, edges, title):
    """Draws a layer graph top to bottom; skip connections in red.

    Returns:
        An `<img>` tag.
    """
    plt = pyplot()
    count = len(layers)
    rows, columns = _layout(count, edges)
    height = max(rows) + 1
    figure, axes = plt.subplots(figsize=(8, 0.9 + 0.45 * height))
    for position, (_, label) in enumerate(layers):
        axes.text(columns[position], -rows[position], label, ha="center",
                  va="center", fontsize=8,
                  bbox={"boxstyle": "round", "fc": "#e8f0fb", "ec": "#4a78b5"})
    targets = [target for _, target in edges]
    skips = sum(targets.count(t) - 1 for t in set(targets))
    for source, target in edges:
        start = (columns[source], -rows[source])
        end = (columns[target], -rows[target])
        chain = columns[source] == columns[target] and rows[target] - rows[source] == 1
        if chain:
            axes.annotate("", xy=(end[0], end[1] + 0.22), xytext=(start[0], start[1] - 0.22),
                          arrowprops={"arrowstyle": "->", "color": "#555"})
            continue
        same = columns[source] == columns[target]
        bend = "arc3,rad=0.5" if same else "arc3,rad=0"
        # An arc in one column leaves and enters at the boxes' left edges.
        left = [_half_width(layers[i][1]) if same else 0 for i in (source, target)]
        axes.annotate("", xy=(end[0] - left[1], end[1]), xytext=(start[0] - left[0], start[1]),
                      arrowprops={"arrowstyle": "->", "color": "tab:red",
                                  "connectionstyle": bend, "shrinkA": 8,
                                  "shrinkB": 8})
    axes.set_xlim(-2.8, 4.2)
    axes.set_ylim(-height + 0.4, 0.6)
    axes.axis("off")
    axes.set_title(f"{title} ({count} layers, {skips} skip connections in red)",
                   fontsize=10)
    return to_img(figure, "architecture diagram")


def _half_width(label):
    """About half a label's box width, in the diagram's units (8 pt text)."""
    return 0.027 * len(label) + 0.1


def cell_figure(values, title):
    """Draws the NB201 cell: nodes 0 to 3, the operation on every edge.

    Edges whose operation is `none` are dotted and grey (they carry
    nothing).

    Args:
        values: The six `edge_T_S` decisions.
        title: The figure's title.

    Returns:
        An `<img>` tag.
    """
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(9, 4.2))
    xs = {node: 3.0 * node for node in range(4)}
    # Each edge bends by its span, alternating sides, so labels do not meet.
    bends = {(1, 0): 0, (2, 1): 0, (3, 2): 0, (2, 0): 1.2, (3, 1): -1.2, (3, 0): 2.4}
    for target, source in EDGES:
        op = values[edge_name(target, source)]
        start, end = np.array([xs[source], 0.0]), np.array([xs[target], 0.0])
        control = (start + end) / 2 + np.array([0.0, 2 * bends[(target, source)]])
        t = np.linspace(0, 1, 50)[:, None]
        curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
        none = op == "none"
        axes.plot(curve[:, 0], curve[:, 1], ":" if none else "-",
                  color="#aaa" if none else "tab:blue", lw=1.5, zorder=1)
        axes.annotate("", xy=curve[-1], xytext=curve[-6],
                      arrowprops={"arrowstyle": "->", "color": "#aaa" if none
                                  else "tab:blue"})
        middle = curve[25]
        axes.text(middle[0], middle[1] + (0.18 if bends[(target, source)] >= 0 else -0.18),
                  op, ha="center", va="center", fontsize=9,
                  color="#888" if none else "black",
                  bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none"})
    for node, x in xs.items():
        axes.add_patch(plt.Circle((x, 0), 0.32, fc="#fde6c4", ec="#c47a00", zorder=3))
        axes.text(x, 0, str(node), ha="center", va="center", zorder=4, fontsize=11)
    axes.set_xlim(-0.8, 9.8)
    axes.set_ylim(-1.6, 2.8)
    axes.set_aspect("equal")
    axes.axis("off")
    axes.set_title(title, fontsize=10)
    return to_img(figure, "NB201 cell diagram")
