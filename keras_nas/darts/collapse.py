"""The collapse guard: DARTS+ early stopping (Liang et al., 2019).

Plain DARTS drifts towards parameter-free operations as the search goes on
(NAS-Bench-201 reports 54.30% CIFAR-10 accuracy for DARTS, an all-skip
cell). DARTS+ ("DARTS+: Improved Differentiable Architecture Search with
Early Stopping", Liang et al., 2019) stops the search when parameter-free
operations start to take over. `CollapseGuard` does that at the end of every
epoch: a decision is taken over when its derived operation (the strongest
one other than `none`) is parameter-free (one of the space's
`SupernetSpec.parameter_free`: `skip_connect`, `avg_pool_3x3` for NB201;
`identity` for ConvNet) and leads the strongest parametric operation
by at least `margin` in logits (so the near-uniform logits of the first
epochs, whose ranking is noise, do not count). When more than
`max_fraction` of the decisions are taken over, the guard restores the
architecture logits of the last epoch that ended below that line (or those
at the start of the search) and stops training.
"""

import keras

from keras_nas import validation
from keras_nas.darts.derive import strongest_operation


def parameter_free_decisions(supernet, margin=0.0):
    """The decisions taken over by parameter-free operations.

    Args:
        supernet: A `DartsSupernet`.
        margin: How far, in logits, the parameter-free operation must lead
            the strongest parametric one; 0 counts every decision whose
            derived operation is parameter-free.

    Returns:
        The decision names, in the supernet's order.
    """
    alphas = supernet.get_alphas()
    free = set(supernet.spec.parameter_free)
    taken = []
    for name, operations in supernet.decisions.items():
        scores = dict(zip(operations, alphas[name]))
        derived = strongest_operation(scores)
        if derived not in free:
            continue
        parametric = [scores[op] for op in operations if op not in free]
        if not parametric or scores[derived] - max(parametric) >= margin:
            taken.append(name)
    return taken


class CollapseGuard(keras.callbacks.Callback):
    """Stops a DARTS search before parameter-free operations take over.

    At the end of every epoch, adds `parameter_free_fraction` (the fraction
    of decisions taken over by parameter-free operations, see
    `parameter_free_decisions`) to the logs. When it exceeds
    `max_fraction`, the guard restores the logits of the last epoch that
    ended at or below `max_fraction` (the logits at the start of `fit` if
    none did) and sets `model.stop_training`.

    Args:
        max_fraction: Largest tolerated fraction of taken-over decisions, in
            [0, 1).
        margin: Logit lead of a parameter-free operation over every
            parametric one for its decision to count as taken over.
        verbose: Whether to print a line when the guard stops the search.

    Attributes:
        stopped_epoch: The epoch at which the guard stopped, or None.
        restored_epoch: The epoch whose logits were restored (-1 for those at
            the start of `fit`), or None.

    Example:

    ```python
    guard = CollapseGuard(max_fraction=0.5)
    supernet.fit(paired, epochs=50, callbacks=[guard])
    ```
    """

    def __init__(self, max_fraction=0.5, margin=0.1, verbose=0):
        super().__init__()
        max_fraction = validation.check_probability("max_fraction", max_fraction)
        if max_fraction >= 1.0:
            raise ValueError(
                "Received an invalid value for `max_fraction`, expected a "
                f"number in [0, 1). Received: max_fraction={max_fraction!r}"
            )
        self.max_fraction = max_fraction
        self.margin = validation.check_non_negative_float("margin", margin)
        self.verbose = verbose
        self.stopped_epoch = None
        self.restored_epoch = None
        self._healthy = None
        self._healthy_epoch = None

    def on_train_begin(self, logs=None):
        self.stopped_epoch = None
        self.restored_epoch = None
        if self._healthy is None:
            self._healthy = self.model.get_alphas()
            self._healthy_epoch = -1

    def on_epoch_end(self, epoch, logs=None):
        free = parameter_free_decisions(self.model, self.margin)
        fraction = len(free) / len(self.model.decisions)
        if logs is not None:
            logs["parameter_free_fraction"] = fraction
        if fraction <= self.max_fraction:
            self._healthy = self.model.get_alphas()
            self._healthy_epoch = epoch
            return
        self.model.set_alphas(self._healthy)
        self.model.stop_training = True
        self.stopped_epoch = epoch
        self.restored_epoch = self._healthy_epoch
        if self.verbose:
            print(
                f"CollapseGuard: epoch {epoch + 1}: parameter-free operations "
                f"lead {len(free)}/{len(self.model.decisions)} decisions "
                f"({', '.join(free)}); stopping with the logits of epoch "
                f"{self._healthy_epoch + 1}."
            )

    def get_state(self):
        """The guard's state, JSON-safe, for resuming a search."""
        return {
            "healthy_alphas": self._healthy,
            "healthy_epoch": self._healthy_epoch,
            "stopped_epoch": self.stopped_epoch,
            "restored_epoch": self.restored_epoch,
        }

    def set_state(self, state):
        """Restores a state from `get_state()`."""
        self._healthy = state["healthy_alphas"]
        self._healthy_epoch = state["healthy_epoch"]
        self.stopped_epoch = state["stopped_epoch"]
        self.restored_epoch = state["restored_epoch"]
