"""Bayesian optimisation with a Gaussian process on the architecture encoding."""

import numpy as np

from keras_nas import validation
from keras_nas.oracles.base import NASOracle
from keras_nas.oracles.gaussian_process import CategoricalGP
from keras_nas.oracles.gaussian_process import expected_improvement
from keras_nas.oracles.gaussian_process import upper_confidence_bound
from keras_nas.oracles.ranking import normal_scores

_ACQUISITIONS = ("ei", "ucb")
_MAX_NEIGHBOURS = 64
_ENUMERATE_LIMIT = 2048
_FIRST_FIT_STEPS = 200
_FIT_STEPS = 50


def default_num_initial_points(max_trials):
    """10 random architectures, or a fifth of the budget (at least 2)."""
    return min(10, max(2, max_trials // 5))


class BayesianOracle(NASOracle):
    """Bayesian optimisation with a categorical Gaussian process surrogate.

    After `num_initial_points` random architectures, each proposal fits a
    Gaussian process (see `keras_nas.oracles.gaussian_process`) to the
    finished trials and proposes the untried architecture of highest
    acquisition value among a pool of candidates:

    - `num_candidates` random architectures, for global exploration;
    - neighbours of the `num_parents` best trials so far: every architecture
      one decision away (sampled when there are more than 64 per parent),
      and as many two decisions away, for local refinement (as BANANAS
      optimises its acquisition by mutating the best architectures, White
      et al., AAAI 2021).

    A space of at most 2048 architectures (none binned) is scored whole.
    The kernel's hyperparameters are refitted at each proposal (maximum
    marginal likelihood, NumPy only), starting from the previous fit, which
    is part of the oracle state with the list of results learnt from.

    The kernel compares the integer vectors of `keras_nas.encoding` slot by
    slot, as categories, with one fitted weight per decision; inactive
    decisions are a category of their own, and continuous ranges are binned
    by the encoding. Scores are turned into normal scores of their ranks
    before fitting, which standardises them: a rank-based output warping
    (warping the outputs matters, Cowen-Rivers et al., "HEBO", JAIR 2022),
    so that diverged trials (accuracy at chance, a huge loss) do not squash
    the differences among good ones.

    When other trials are still running (asynchronous workers), their
    architectures join the data with the posterior mean as their value (the
    "kriging believer" of Ginsbourger et al., 2010), so workers are sent to
    different regions rather than next to one another.

    `predictions` maps each trial the surrogate proposed to its posterior
    mean there (on the normal-score scale it is fitted on), kept in the
    oracle state so a report can set it against the measured score.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        num_initial_points: Random architectures before the surrogate is
            used; `None` for 10, or a fifth of `max_trials` (at least 2)
            when that is smaller.
        acquisition: `"ei"` (expected improvement) or `"ucb"` (upper
            confidence bound).
        xi: Improvement (in standardised units) that expected improvement
            requires before counting any; larger explores more.
        beta: Weight of the posterior standard deviation in the upper
            confidence bound; larger explores more.
        num_candidates: Random architectures in each candidate pool.
        num_parents: Best trials whose neighbours join the candidate pool.
        max_observations: Most finished trials the surrogate is fitted on
            (its cost grows with their cube); beyond it, the best half and
            the most recent others are kept.
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    oracle = BayesianOracle("val_accuracy", max_trials=100, seed=1)
    tuner = keras_nas.NASTuner(space, strategy=oracle)
    ```
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        num_initial_points=None,
        acquisition="ei",
        xi=0.01,
        beta=2.6,
        num_candidates=256,
        num_parents=5,
        max_observations=256,
        **kwargs,
    ):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        if num_initial_points is None:
            num_initial_points = default_num_initial_points(max_trials)
        self.num_initial_points = validation.check_positive_int(
            "num_initial_points", num_initial_points
        )
        self.acquisition = validation.check_one_of(
            "acquisition", acquisition, _ACQUISITIONS
        )
        self.xi = validation.check_non_negative_float("xi", xi)
        self.beta = validation.check_non_negative_float("beta", beta)
        self.num_candidates = validation.check_positive_int(
            "num_candidates", num_candidates
        )
        self.num_parents = validation.check_positive_int("num_parents", num_parents)
        self.max_observations = validation.check_positive_int(
            "max_observations", max_observations
        )
        if self.max_observations < 2:
            raise ValueError(
                "Received an invalid value for `max_observations`, expected "
                f"an integer of at least 2. Received: max_observations="
                f"{max_observations!r}"
            )
        self.observed = []
        self.gp_params = None
        self.predictions = {}
        self._data = None
        self._every = (None, None)
        self._vectors = (None, {})

    def on_result(self, trial_id):
        self.observed.append(trial_id)

    def propose(self, trial_id):
        if len(self.observed) < self.num_initial_points:
            return self.random_new()
        try:
            gp, best = self._fit()
            self._believe_pending(gp, trial_id)
        except np.linalg.LinAlgError:  # a degenerate fit: explore instead
            return self.random_new()
        candidates = self._candidates()
        if not candidates:
            return self.random_new()
        scores = self._acquire(gp, np.array(candidates), best)
        for index in np.argsort(-scores, kind="stable"):
            values = self.encoding.decode(candidates[index])
            if self.is_new(values):
                mean, _ = gp.predict(np.array([candidates[index]]))
                self.predictions[trial_id] = float(mean[0])
                return values
        return self.random_new()

    # ------------------------------------------------------------ surrogate

    def _training_set(self):
        """The trials the surrogate learns from, at most `max_observations`."""
        observed = self.observed
        if len(observed) <= self.max_observations:
            return list(observed)
        half = self.max_observations // 2
        ranked = sorted(observed, key=lambda t: -self.fitness(t))
        kept = set(ranked[:half])
        others = [t for t in observed if t not in kept]
        kept.update(others[len(others) - (self.max_observations - half) :])
        return [t for t in observed if t in kept]

    def _fit(self):
        """Fits the surrogate; returns it and the incumbent's target."""
        trials = self._training_set()
        vectors = np.array([self._vector(t) for t in trials])
        targets = normal_scores([self.fitness(t) for t in trials])
        cardinalities = self.encoding.cardinalities
        params = self.gp_params
        if params is not None and len(params["log_theta"]) != len(cardinalities):
            params = None  # the space grew: start afresh
        gp = CategoricalGP(cardinalities, params)
        gp.fit(
            vectors,
            targets,
            steps=_FIRST_FIT_STEPS if params is None else _FIT_STEPS,
        )
        self.gp_params = gp.get_params()
        self._data = (vectors, targets)
        return gp, float(targets.max())

    def _believe_pending(self, gp, trial_id):
        """Adds running trials with their posterior mean as their value."""
        pending = [
            self._vector(trial.trial_id)
            for trial in self.ongoing_trials.values()
            if trial.trial_id != trial_id and trial.trial_id in self.trials
        ]
        if not pending:
            return
        pending = np.array(pending)
        mean, _ = gp.predict(pending)
        vectors, targets = self._data
        gp.condition(
            np.concatenate([vectors, pending]), np.concatenate([targets, mean])
        )

    def _acquire(self, gp, candidates, best):
        mean, std = gp.predict(candidates)
        if self.acquisition == "ucb":
            return upper_confidence_bound(mean, std, self.beta)
        return expected_improvement(mean, std, best, self.xi)

    # ------------------------------------------------------------ candidates

    def _candidates(self):
        """Untried candidate vectors: neighbours of the best, and random ones.

        A small space (at most 2048 architectures, none binned) is scored
        whole instead.
        """
        encoding = self.encoding
        tried = {encoding.key(self._vector(t)) for t in self.trials}
        every = self._every_vector()
        if every is not None:
            return [v for v in every if encoding.key(v) not in tried]
        ranked = sorted(self.observed, key=lambda t: -self.fitness(t))
        pool = []
        for parent in ranked[: self.num_parents]:
            pool.extend(neighbours(encoding, self._vector(parent), self.rng))
        pool.extend(random_vectors(encoding, self.num_candidates, self.rng))
        candidates = []
        for vector in pool:
            key = encoding.key(vector)
            if key not in tried:
                tried.add(key)
                candidates.append(vector)
        return candidates

    def _vector(self, trial_id):
        """`vector(trial_id)`, cached while the space stays the same."""
        if self._vectors[0] is not self.encoding:
            self._vectors = (self.encoding, {})
        cache = self._vectors[1]
        if trial_id not in cache:
            cache[trial_id] = self.vector(trial_id)
        return cache[trial_id]

    def _every_vector(self):
        """Every vector of a small exact space, else `None` (cached)."""
        encoding = self.encoding
        if self._every[0] is not encoding:
            every = None
            if encoding.exact and encoding.count() <= _ENUMERATE_LIMIT:
                every = list(encoding.enumerate())
            self._every = (encoding, every)
        return self._every[1]

    # ------------------------------------------------------------ state

    def get_state(self):
        state = super().get_state()
        state["observed"] = list(self.observed)
        state["gp_params"] = self.gp_params
        state["predictions"] = dict(self.predictions)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.observed = list(state["observed"])
        self.gp_params = state["gp_params"]
        self.predictions = dict(state.get("predictions", {}))


def random_vectors(encoding, count, rng):
    """`count` random canonical vectors, drawn at once when nothing is conditional.

    Args:
        encoding: The `ArchitectureEncoding`.
        count: How many vectors.
        rng: A `numpy.random.Generator`.

    Returns:
        A list of int64 vectors.
    """
    if any(slot.conditions for slot in encoding.slots):
        return [encoding.random_vector(rng) for _ in range(count)]
    return list(rng.integers(encoding.cardinalities, size=(count, len(encoding))))


def neighbours(encoding, vector, rng, max_count=_MAX_NEIGHBOURS):
    """Architectures one and two decisions away from `vector`.

    Args:
        encoding: The `ArchitectureEncoding`.
        vector: A canonical vector.
        rng: A `numpy.random.Generator`.
        max_count: Most neighbours of each distance; the one-decision
            neighbours are all listed when there are no more, else sampled.

    Returns:
        A list of canonical vectors: the one-decision neighbours, then as
        many two-decision ones (fewer when the space is that small).
    """
    vector = np.asarray(vector, dtype=np.int64)
    mutable = np.flatnonzero(
        encoding.active_mask(vector) & (encoding.cardinalities > 1)
    )
    moves = [
        (int(slot), value)
        for slot in mutable
        for value in range(int(encoding.cardinalities[slot]))
        if value != vector[slot]
    ]
    if len(moves) > max_count:
        picked = rng.choice(len(moves), size=max_count, replace=False)
        moves = [moves[i] for i in sorted(picked)]
    result = []
    for slot, value in moves:
        child = vector.copy()
        child[slot] = value
        result.append(encoding.repair(child, rng))
    if len(mutable) > 1:
        for _ in range(len(moves)):
            child = vector.copy()
            for slot in rng.choice(mutable, size=2, replace=False):
                other = rng.integers(encoding.cardinalities[slot] - 1)
                child[slot] = other + (other >= child[slot])
            result.append(encoding.repair(child, rng))
    return result
