"""Diagrams of an architecture: a layer graph, or the NB201 cell as a DAG."""

import numpy as np

from keras_nas.report.figures import pyplot
from keras_nas.report.figures import to_img
from keras_nas.spaces.nb201 import EDGES
from keras_nas.spaces.nb201 import edge_name

_DETAILS = ("units", "filters", "kernel_size", "strides", "pool_size",
            "activation", "rate")


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
    details = []
    for key in _DETAILS:
        value = config.get(key)
        if value in (None, "linear") or (key == "rate" and not value):
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


def layers_figure(layers, edges, title):
    """Draws a layer graph top to bottom; skip connections arc on the right.

    Returns:
        An `<img>` tag.
    """
    plt = pyplot()
    count = len(layers)
    figure, axes = plt.subplots(figsize=(7.5, 0.9 + 0.45 * count))
    for position, (_, label) in enumerate(layers):
        axes.text(0, -position, label, ha="center", va="center", fontsize=8,
                  bbox={"boxstyle": "round", "fc": "#e8f0fb", "ec": "#4a78b5"})
    skips = 0
    for source, target in edges:
        if target - source == 1:
            axes.annotate("", xy=(0, -target + 0.22), xytext=(0, -source - 0.22),
                          arrowprops={"arrowstyle": "->", "color": "#555"})
        else:
            skips += 1
            axes.annotate("", xy=(1.3, -target), xytext=(1.3, -source),
                          arrowprops={"arrowstyle": "->", "color": "tab:red",
                                      "connectionstyle": "arc3,rad=-0.35"})
    axes.set_xlim(-2.2, 2.6)
    axes.set_ylim(-count + 0.4, 0.6)
    axes.axis("off")
    axes.set_title(f"{title} ({count} layers, {skips} skip connections in red)",
                   fontsize=10)
    return to_img(figure, "architecture diagram")


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
