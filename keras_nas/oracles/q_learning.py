"""Q-learning over the decisions of a space, after MetaQNN (Baker et al., 2017)."""

import numbers

import numpy as np

from keras_nas import validation
from keras_nas.oracles.base import NASOracle
from keras_nas.oracles.ranking import quantile_ranks

_ATTEMPTS = 50

PAPER_SCHEDULE = (
    (1.0, 1500),
    (0.9, 100),
    (0.8, 100),
    (0.7, 100),
    (0.6, 150),
    (0.5, 150),
    (0.4, 150),
    (0.3, 150),
    (0.2, 150),
    (0.1, 150),
)
"""MetaQNN's epsilon schedule: (epsilon, models trained at that epsilon)."""


def epsilon_at(schedule, trial_number, max_trials):
    """The exploration rate of a trial under a schedule scaled to the budget.

    Args:
        schedule: Sequence of `(epsilon, share)` pairs; each epsilon holds
            for its share of the budget (shares are relative weights).
        trial_number: The number of trials started before this one.
        max_trials: The budget.

    Returns:
        A float in [0, 1].
    """
    shares = np.array([share for _, share in schedule], dtype=float)
    ends = np.cumsum(shares) / shares.sum() * max_trials
    index = int(np.searchsorted(ends, trial_number, side="right"))
    return float(schedule[min(index, len(schedule) - 1)][0])


class QLearningOracle(NASOracle):
    """MetaQNN: an epsilon-greedy Q-learning agent picks decisions in turn.

    The agent walks the slots of the architecture encoding in order, skipping
    those the decisions so far make inactive. Its state is the position and
    the previous decision (slot and value); its actions are the values of
    the current slot. It acts epsilon-greedily: with probability epsilon a
    uniformly random value, else one of highest Q value (ties broken at
    random).

    Epsilon follows a schedule from exploration to exploitation tied to
    `max_trials`; the default keeps MetaQNN's proportions (Baker et al.,
    "Designing Neural Network Architectures using Reinforcement Learning",
    ICLR 2017): epsilon 1.0 for the first 1500/2700 of the budget (56%),
    then 0.9, 0.8, 0.7 for 100/2700 each and 0.6 down to 0.1 for 150/2700
    each. A 100-trial search thus explores at random for 56 trials, then
    exploits more and more.

    After each result the agent replays `replay_size` architectures drawn
    uniformly (with replacement) from all finished trials, updating each
    transition of each from last to first:

        Q(s, a) <- (1 - alpha) Q(s, a) + alpha [r if terminal else max_a' Q(s', a')]

    The reward `r` is the trial's percentile among all finished trials
    (0 for the worst, 1 for the best, ties shared): in [0, 1] like the
    accuracies of the paper, for any objective and direction, and unmoved
    by a few diverged trials. Architectures proposed at random (fallbacks,
    retries) are learnt from like the agent's own. When the agent samples an
    architecture already tried, it learns again from the stored result (as
    MetaQNN does) and samples anew, so it never proposes one twice; after
    50 repeats it proposes an untried random architecture.

    Defaults are the paper's (initial Q 0.5, 100 replays, its epsilon
    schedule) except the learning rate: 0.1 rather than 0.01, because a
    budget of about a hundred trials, not thousands, gives each state-action
    pair few results, and at 0.01 the initial values would still dominate
    the table when exploitation starts. The Q-table and the replay memory
    are part of the oracle state, so a reloaded search continues exactly.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        learning_rate: The Q-learning rate `alpha`, in (0, 1].
        initial_q: The Q value of unvisited state-action pairs (0.5, the
            paper's, is the mean reward).
        replay_size: Architectures replayed after each result.
        epsilon_schedule: Sequence of `(epsilon, share)` pairs, or `None`
            for `PAPER_SCHEDULE`; each epsilon holds for its share of
            `max_trials` (shares are relative weights).
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    oracle = QLearningOracle("val_accuracy", max_trials=100, seed=1,
                             epsilon_schedule=[(1.0, 0.5), (0.5, 0.25), (0.1, 0.25)])
    tuner = keras_nas.NASTuner(space, strategy=oracle)
    ```
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        learning_rate=0.1,
        initial_q=0.5,
        replay_size=100,
        epsilon_schedule=None,
        **kwargs,
    ):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        if (
            isinstance(learning_rate, bool)
            or not isinstance(learning_rate, numbers.Real)
            or not 0.0 < learning_rate <= 1.0
        ):
            raise ValueError(
                "Received an invalid value for `learning_rate`, expected a "
                f"number in (0, 1]. Received: learning_rate={learning_rate!r}"
            )
        self.learning_rate = float(learning_rate)
        if isinstance(initial_q, bool) or not isinstance(initial_q, numbers.Real):
            raise ValueError(
                "Received an invalid value for `initial_q`, expected a "
                f"number. Received: initial_q={initial_q!r}"
            )
        self.initial_q = float(initial_q)
        self.replay_size = validation.check_positive_int("replay_size", replay_size)
        self.epsilon_schedule = _check_schedule(
            PAPER_SCHEDULE if epsilon_schedule is None else epsilon_schedule
        )
        self.q_table = {}
        self.memory = []
        self._trajectories = (None, {})

    @property
    def epsilon(self):
        """The exploration rate of the next proposal."""
        return epsilon_at(self.epsilon_schedule, len(self.trials), self.max_trials)

    def propose(self, trial_id):
        epsilon = self.epsilon
        known = None
        for _ in range(_ATTEMPTS):
            values = self._walk(epsilon)
            if self.is_new(values):
                return values
            if known is None:
                known = self._known_results()
            key = self.encoding.key(self.encoding.encode(values))
            if key in known:
                # As MetaQNN, learn again from the stored result of a repeat.
                trial, reward = known[key]
                self._update(self._trajectory(trial), reward)
        return self.random_new()

    def on_result(self, trial_id):
        self.memory.append(trial_id)
        fitnesses = np.array([self.fitness(t) for t in self.memory])
        rewards = quantile_ranks(fitnesses)
        for index in self.rng.integers(len(self.memory), size=self.replay_size):
            self._update(self._trajectory(self.memory[index]), rewards[index])

    def q_values(self, state):
        """The Q values of a state's actions (initial ones if unvisited).

        Args:
            state: A state key, as `state_key()` makes it.

        Returns:
            A list of floats, one per value of the state's slot.
        """
        slot = int(state.split("|")[0])
        return self._row(state, slot)

    @staticmethod
    def state_key(position, previous_slot, previous_value):
        """The key of a state: position, and the previous decision.

        Args:
            position: The slot about to be decided.
            previous_slot: The previous active slot, or -1 at the start.
            previous_value: Its value index, or -1 at the start.

        Returns:
            A string, JSON-safe as a dict key.
        """
        return f"{position}|{previous_slot}|{previous_value}"

    # ------------------------------------------------------------ internals

    def _row(self, state, slot):
        if state not in self.q_table:
            cardinality = int(self.encoding.cardinalities[slot])
            self.q_table[state] = [self.initial_q] * cardinality
        return self.q_table[state]

    def _walk(self, epsilon):
        """Samples the values of an architecture, epsilon-greedily."""
        values = {}
        previous = (-1, -1)
        for position, slot in enumerate(self.encoding.slots):
            if not slot.is_active(values):
                continue
            row = self._row(self.state_key(position, *previous), position)
            if self.rng.random() < epsilon:
                action = int(self.rng.integers(len(row)))
            else:
                best = np.flatnonzero(np.asarray(row) == max(row))
                action = int(best[self.rng.integers(len(best))])
            values[slot.name] = slot.choices[action]
            previous = (position, action)
        return values

    def _trajectory(self, trial_id):
        """The (state, action) pairs that lead to a trial's architecture."""
        if self._trajectories[0] is not self.encoding:  # new, or the space grew
            self._trajectories = (self.encoding, {})
        cache = self._trajectories[1]
        if trial_id not in cache:
            vector = self.vector(trial_id)
            steps = []
            previous = (-1, -1)
            for position in np.flatnonzero(self.encoding.active_mask(vector)):
                action = int(vector[position])
                steps.append((self.state_key(int(position), *previous), action))
                previous = (int(position), action)
            cache[trial_id] = steps
        return cache[trial_id]

    def _known_results(self):
        """Maps the key of each finished architecture to (trial, reward)."""
        rewards = quantile_ranks(np.array([self.fitness(t) for t in self.memory]))
        return {
            self.encoding.key(self.vector(t)): (t, r)
            for t, r in zip(self.memory, rewards)
        }

    def _update(self, trajectory, reward):
        """Updates a trajectory's Q values from last to first."""
        alpha = self.learning_rate
        target = reward
        for state, action in reversed(trajectory):
            row = self._row(state, int(state.split("|")[0]))
            row[action] = (1 - alpha) * row[action] + alpha * target
            target = max(row)

    # ------------------------------------------------------------ state

    def get_state(self):
        state = super().get_state()
        state["q_table"] = {key: list(row) for key, row in self.q_table.items()}
        state["memory"] = list(self.memory)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.q_table = {key: list(row) for key, row in state["q_table"].items()}
        self.memory = list(state["memory"])
        self._trajectories = (None, {})


def _check_schedule(schedule):
    """Checks a list of `(epsilon, share)` pairs and returns it as tuples."""
    error = ValueError(
        "Received an invalid value for `epsilon_schedule`, expected a "
        "non-empty list of (epsilon, share) pairs with epsilon in [0, 1] and "
        f"a positive share. Received: epsilon_schedule={schedule!r}"
    )
    try:
        pairs = tuple((eps, share) for eps, share in schedule)
    except (TypeError, ValueError):
        raise error from None
    if not pairs:
        raise error
    for eps, share in pairs:
        for number in (eps, share):
            if isinstance(number, bool) or not isinstance(number, numbers.Real):
                raise error
        if not 0.0 <= eps <= 1.0 or not share > 0:
            raise error
    return tuple((float(eps), float(share)) for eps, share in pairs)
