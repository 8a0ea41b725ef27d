"""`NASOracle`: what every keras-nas strategy shares."""

import glob
import inspect
import math
import os
import warnings

import keras_tuner as kt
import numpy as np
import tensorflow as tf

from keras_nas import compat
from keras_nas import validation
from keras_nas.encoding import ArchitectureEncoding
from keras_nas.files import first_corrupt_json
from keras_nas.files import remove_stale_temporaries
from keras_nas.files import write_json_atomically
from keras_nas.objectives import costs
from keras_nas.objectives import pareto
from keras_nas.oracles.early_stopping import EARLIER_EPOCHS
from keras_nas.oracles.early_stopping import STOPPED_EARLY
from keras_nas.oracles.early_stopping import epochs_trained
from keras_nas.oracles.feasibility import CostModel

_EXHAUSTIVE_LIMIT = 200_000
_ATTEMPTS = 50

SCALARISATION_RHO = 0.05
"""Weight of the sum term in ParEGO's augmented Chebyshev scalarisation."""

SCREEN_ATTEMPTS = 20
"""Proposals drawn at most for one trial while they are predicted over budget."""

TAKEN_OVER = "taken over from an earlier run"
"""The start of the message of a trial `NASOracle.warm_start` took over."""

SCREEN_SAMPLE = 200
SCREEN_QUANTILE = 0.1
"""When no architecture is predicted within budget, the screen accepts
those predicted among the cheapest tenth of 200 random ones."""


class NASOracle(kt.Oracle):
    """Base of keras-nas strategies: encoding, seeded generator, proposals.

    A subclass implements `propose()`, returning the values of a new
    architecture or `None` when it has nothing left to propose; this class
    turns that into KerasTuner's `populate_space` answer, so a strategy never
    hands out an architecture twice. The architecture encoding is built from
    the oracle's hyperparameters (the whole space, as the space declared it)
    and rebuilt if the space grows. The random generator's state is part of
    the oracle state, so a reloaded search continues the same sequence.

    `oracle.json` and the trial files are written atomically, and a reload
    squares the two where a crash fell between them, so a search killed at
    any moment resumes without losing or rerunning a finished trial.

    Several objectives (a list objective, which KerasTuner turns into a
    `MultiObjective`): every trial reports each objective's own metric, and
    `objective_values` reads them (never KerasTuner's `multi_objective`
    sum, which no trial reports). A strategy that ranks by one number sees,
    through `fitness`, a random scalarisation drawn for each proposal,
    after ParEGO (Knowles, IEEE TEVC 2006): the augmented Chebyshev
    function `max_j(w_j f_j) + 0.05 * sum_j(w_j f_j)` of the objectives
    turned to minimisation and normalised to [0, 1] over the completed
    trials, with weights `w` drawn uniformly from the simplex (ParEGO draws
    them from a lattice on it). Each proposal so aims at one region of the
    Pareto front, and the proposals together at all of it. The weights
    come from a generator of their own, so strategies that never ask for a
    fitness (random, grid) propose what they propose for one objective.
    `get_pareto_front()` returns the completed trials on the front. With a
    single objective nothing of this applies: fitness is the score.

    Budgets (`set_constraints`, given by `NASTuner`'s `max_params`, ...):
    once a trial was infeasible (measured over a budget and never trained,
    see `keras_nas.objectives.costs`), every proposal is screened by a
    `keras_nas.oracles.feasibility.CostModel` fitted on the costs measured
    so far, feasible and infeasible: while the proposal is predicted over
    budget the strategy is asked again, up to `SCREEN_ATTEMPTS` times, and
    the proposal predicted least over budget is taken; meanwhile `is_new`
    refuses architectures predicted over budget, so that strategies which
    take the first new one of their ranked candidates (`bayesian`, `dls`)
    skip them. While the model predicts nothing within budget (early, when
    every trial so far was over it), "within budget" is relaxed to the
    cheapest tenth of the space as predicted, so the search walks towards
    the budget. So every strategy,
    random and grid included (grid skips the points predicted over
    budget), stops proposing where the budgets bite, and the strategies
    that learn keep learning from the feasible results only (an
    infeasible trial is `FAILED` and never reaches `on_result`).

    Args:
        objective: Name of the metric to optimise, a
            `keras_tuner.Objective`, or a list of them (several objectives).
        max_trials: Number of trials to run at most.
        seed: Random seed.
        hyperparameters: Optional `keras_tuner.HyperParameters` to declare
            the space in advance.
        **kwargs: Further arguments of `keras_tuner.Oracle`.
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        hyperparameters=None,
        **kwargs,
    ):
        validation.check_positive_int("max_trials", max_trials)
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            seed=seed,
            hyperparameters=hyperparameters,
            **kwargs,
        )
        if seed is not None:
            # KerasTuner reads `seed or random.randint(...)`, dropping seed=0.
            self.seed = seed
            compat.set_seed_state(self, seed)
        self.rng = np.random.default_rng(self.seed)
        self.weights_rng = np.random.default_rng([self.seed, 1])
        self._scalarisation = None
        self.limits = {}
        self.early_stopping = None
        self._early_stopping_state = None
        self._unrecorded_curves = []
        self._training_on = None
        self._screen = None
        self.structure = None
        self._encoding = None
        self._encoded_size = None
        self._absorbed = 0
        self._warm_started = False
        self._taken_over = []
        self._warm_queue = []

    needs_training_data = False
    """Whether the strategy learns from the training data before proposing
    (in `before_search`), which a tabular benchmark has none of."""

    @property
    def encoding(self):
        """The `ArchitectureEncoding` of the current space."""
        size = len(self.hyperparameters.space)
        if self._encoding is None or self._encoded_size != size:
            self._encoding = ArchitectureEncoding(
                self.hyperparameters, self.structure
            )
            self._encoded_size = size
        return self._encoding

    def set_structure(self, structure):
        """Gives the oracle the space's `RepeatedStructure` (or `None`)."""
        self.structure = structure
        self._encoding = None

    @property
    def max_trials(self):
        """The trial budget, infeasible trials not counted (see `set_constraints`).

        KerasTuner stops proposing once the oracle holds `max_trials`
        trials; each architecture measured over a budget (never trained)
        raises that count by one, so `max_trials` architectures are
        trained. `NASTuner`'s `max_consecutive_infeasible` bounds the
        search where the budgets cannot be met. Trials taken over from an
        earlier run (`warm_start`) are not counted either.
        """
        if self.trial_budget is None:
            return None
        return self.trial_budget + len(getattr(self, "_taken_over", ())) + sum(
            map(costs.is_infeasible, getattr(self, "trials", {}).values())
        )

    @max_trials.setter
    def max_trials(self, value):
        self.trial_budget = value

    def set_early_stopping(self, scheduler):
        """Gives the oracle an early-stopping scheduler (or `None`).

        Each epoch a trial reports (`update_trial(..., step=epoch)`) passes
        the first objective measured per epoch (see `epoch_objective`) to
        `scheduler.report`; a trial it stops gets the metric
        `stopped_early` (its last epoch, counted from 1) and `update_trial`
        returns it with the status `STOPPED`, which tells the tuner to end
        its training. The trial then completes with the results of the
        epochs it trained: strategies learn from its best value so far,
        like any other trial's. The scheduler's records are part of the
        oracle state.

        Args:
            scheduler: A `keras_nas.oracles.early_stopping.EarlyStopping`.
        """
        saved = self._early_stopping_state
        self.early_stopping = scheduler
        if scheduler is not None and saved is not None:
            if saved["config"] == scheduler.get_config():
                scheduler.set_state(saved["state"])
        if scheduler is not None:
            self._record_curves()

    def _record_curves(self):
        """Reports to the scheduler the curves `oracle.json` missed.

        The curves of trials that ended in their own file only (a crash
        before `oracle.json` was written, see `_recover_unsaved_trials`);
        recording a value again is harmless, as schedulers record one value
        per trial and epoch.
        """
        objective = self.epoch_objective
        for trial_id in self._unrecorded_curves:
            trial = self.trials[trial_id]
            if objective is None or not trial.metrics.exists(objective.name):
                continue
            sign = 1.0 if objective.direction == "max" else -1.0
            for observation in trial.metrics.get_history(objective.name):
                value = observation.mean()
                if math.isfinite(value):
                    self.early_stopping.report(trial_id, observation.step + 1,
                                               sign * value)
        self._unrecorded_curves = []

    @property
    def epoch_objective(self):
        """The first objective a trial reports every epoch (not a cost)."""
        for objective in self.objectives:
            if objective.name not in costs.COSTS:
                return objective
        return None

    @kt.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        """Records a trial's metrics; an epoch's go to the early stopping.

        Returns:
            The trial; its status is `STOPPED` when the scheduler stops it.
        """
        with warnings.catch_warnings():  # KerasTuner's nanmin of a NaN.
            warnings.simplefilter("ignore", RuntimeWarning)
            trial = super().update_trial(trial_id, metrics, step)
        objective = self.epoch_objective
        if (
            self.early_stopping is None
            or objective is None
            or objective.name not in metrics
            or (trial.metrics.exists(STOPPED_EARLY) and trial_id != self._training_on)
            or not math.isfinite(metrics[objective.name])
        ):
            return trial
        value = float(metrics[objective.name])
        value = value if objective.direction == "max" else -value
        if self.early_stopping.report(trial_id, int(step) + 1, value):
            _mark_stopped(trial.metrics, int(step) + 1)
            self._save_trial(trial)
            trial.status = kt.engine.trial.TrialStatus.STOPPED
        return trial

    def next_promotion(self):
        """The stopped trial the scheduler would now let go on, or `None`.

        Of the completed trials stopped after a later epoch than any they
        were promoted at before, the one stopped latest (then the first
        started) that the scheduler finds `promotable`.
        """
        if self.early_stopping is None:
            return None
        candidates = []
        for trial in self.trials.values():
            if trial.status != kt.engine.trial.TrialStatus.COMPLETED or (
                not trial.metrics.exists(STOPPED_EARLY)
            ):
                continue
            epoch = int(trial.metrics.get_last_value(STOPPED_EARLY))
            if epoch > self.early_stopping.promoted.get(trial.trial_id, 0) and (
                self.early_stopping.promotable(trial.trial_id, epoch)
            ):
                candidates.append((-epoch, len(candidates), trial))
        return min(candidates)[2] if candidates else None

    def begin_promotion(self, trial):
        """Readies a stopped trial to be trained again, from scratch.

        The trial gets a new learning curve, still marked stopped early
        (so that a crash before `end_promotion` leaves a stopped trial,
        which is promoted again on resume) and with the epochs of its
        earlier runs (`EARLIER_EPOCHS`); its reports up to the epoch it was
        stopped after are not judged again.

        Returns:
            The trial's earlier `MetricsTracker`, for `end_promotion`.
        """
        earlier, spent = trial.metrics, epochs_trained(trial)
        stopped_after = int(earlier.get_last_value(STOPPED_EARLY))
        self.early_stopping.promote(trial.trial_id, stopped_after)
        trial.metrics = compat.new_metrics_tracker()
        _mark_stopped(trial.metrics, stopped_after)
        trial.metrics.register(EARLIER_EPOCHS, direction="min")
        trial.metrics.update(EARLIER_EPOCHS, float(spent))
        self._training_on = trial.trial_id
        return earlier

    def abandon_promotion(self, trial, earlier):
        """Undoes `begin_promotion` (the search stops): promotable again."""
        self._training_on = None
        del self.early_stopping.promoted[trial.trial_id]
        trial.metrics = earlier
        trial.status = kt.engine.trial.TrialStatus.COMPLETED
        self._save_trial(trial)
        self.save()

    def end_promotion(self, trial, earlier, failed=False):
        """Completes a promoted trial again, scored on its new curve.

        Args:
            trial: The trial `begin_promotion` readied.
            earlier: What `begin_promotion` returned.
            failed: Whether its training failed: it then keeps its earlier
                results (and is not promoted again at the same epoch).
        """
        self._training_on = None
        if failed:
            trial.metrics = earlier
        elif trial.metrics.get_last_value(STOPPED_EARLY) == (
            self.early_stopping.promoted[trial.trial_id]
        ):  # Not stopped again: it trained every epoch.
            compat.drop_metric(trial.metrics, STOPPED_EARLY)
        trial.status = kt.engine.trial.TrialStatus.COMPLETED
        self.score_trial(trial)
        self._save_trial(trial)
        self.save()

    def _check_objective_found(self, metrics):
        """Accepts reports without every objective (KerasTuner's hook).

        An epoch's report (`NASTuner.on_epoch_end`) holds the epoch's logs,
        never the costs measured once per trial; `NASTuner` checks the
        trial's final report itself.
        """

    def set_constraints(self, limits):
        """Gives the oracle the search's budgets, to screen proposals by.

        Args:
            limits: Dict of cost name (`"params"`, `"flops"`,
                `"latency_ms"`, `"model_bytes"`) to its largest value.
        """
        self.limits = dict(limits)

    @classmethod
    def option_names(cls):
        """The constructor arguments the strategy takes by name, a set.

        `keras_nas.strategies.get_oracle` accepts them (less `objective`,
        `max_trials` and `seed`, which it passes itself) as a named
        strategy's options. By default they are the named arguments of
        `__init__` along the class's bases, KerasTuner's included; a
        strategy that takes more through `**kwargs` adds them.
        """
        named = (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        )
        names = set()
        for klass in cls.__mro__:
            if klass is object or "__init__" not in vars(klass):
                continue
            parameters = inspect.signature(klass.__init__).parameters.values()
            names.update(p.name for p in parameters if p.kind in named)
        return names - {"self"}

    def check_search(self, space, time_limit=None, workers=None):
        """Refuses a search the strategy cannot run (every search here).

        `NASTuner` calls it when it is created, and `keras-nas run` before
        it starts any process, so that a search the strategy cannot run
        fails at once, with a message naming the argument.

        Args:
            space: The search space: a `keras_tuner.HyperModel` (a
                keras-nas `SearchSpace` or a user's) or a build function.
            time_limit: The search's time limit in seconds, or `None`.
            workers: How many KerasTuner workers share the search
                (`keras-nas run --workers`), or `None` when it runs in one
                process (`NASTuner` itself passes `None`).

        Raises:
            ValueError: If the strategy cannot search `space` or cannot
                run under `time_limit` or `workers`.
        """

    def before_search(self, tuner, x, y, validation_data, fit_kwargs):
        """Runs before the search's first trial is created (nothing here).

        `NASTuner.search` calls it on every search, a resumed one too, in
        the process that holds the oracle (not on distributed workers),
        after checking the data and before the time limit starts. A
        strategy that learns from the data before proposing trials (a
        one-shot search) does it here, and saves what it needs to resume.

        Args:
            tuner: The `NASTuner`: its `hypermodel`, `project_dir`, `seed`,
                `distribution_strategy` and `progress`.
            x: The training inputs given to `search`.
            y: The training labels given to `search`, or `None`.
            validation_data: `search`'s `validation_data`, or `None`.
            fit_kwargs: The keyword arguments of `search` (`epochs`,
                `batch_size`, ...), as `model.fit` receives them.
        """

    def propose(self, trial_id):
        """Returns the values of a new architecture, or `None` if none is left.

        Args:
            trial_id: The id of the trial being created.
        """
        raise NotImplementedError

    def on_result(self, trial_id):
        """Learns from a newly completed trial (nothing here).

        Called once per completed trial with a finite score, in the order
        trials ended (KerasTuner's `end_order`, part of the oracle state),
        just before the next proposal. Trials that end out of order, or while
        others still run, are taken in when they end, so no worker waits for
        another; a reloaded oracle takes in whatever ended after its last
        save. Failed trials never reach it.

        Args:
            trial_id: The id of the trial.
        """

    def warm_start(self, trials, same_data):
        """Begins the search from an earlier run's trials, once.

        With `same_data` (the trials were trained on this search's data and
        settings), each completed trial whose architecture this space holds
        is taken over as a completed trial of this search, with its metrics
        and score: it is never trained again, and it reaches `on_result`
        before the first proposal, like any finished trial, so population
        strategies start with it as a member and learned ones with it in
        their history. They are taken over worst first, best last, so that
        a population that keeps its latest members (aging evolution) starts
        with the best of them. Otherwise their scores, measured on other
        data, are not comparable and are not used: the `warm_start_size()`
        best of those architectures are proposed first, to be trained on
        this data, and the strategy learns from those results as from any
        others.

        An oracle that already holds trials, or was warm-started before (the
        state records it), is left as it is, so a resumed search is not
        seeded twice. A trial taken over has a message starting with
        `TAKEN_OVER`, so that a reload after a crash before `oracle.json`
        was written still counts it as taken over.

        Args:
            trials: The earlier run's completed `keras_tuner.engine.trial.Trial`s
                with a finite score, in the order they ran.
            same_data: Whether they were trained on the same data and
                training settings as this search.

        Returns:
            `{earlier trial id: new trial id}` of the trials taken over.
        """
        if self._warm_started or self.trials:
            return {}
        self._warm_started = True
        known = [(t, self._in_space(t.hyperparameters.values)) for t in trials]
        known = [(t, values) for t, values in known if values is not None]
        direction = 1.0 if self.objective.direction == "max" else -1.0
        if not same_data:
            ranked = sorted(known, key=lambda item: -direction * item[0].score)
            self._warm_queue = [v for _, v in ranked[: self.warm_start_size()]]
            return {}
        unique = {}
        for old, values in known:
            unique.setdefault(compat.values_hash(self, values), (old, values))
        ordered = sorted(unique.values(), key=lambda item: direction * item[0].score)
        # Ids padded as KerasTuner pads the new trials' (the budget grows).
        budget = self.max_trials + len(ordered)
        return {
            old.trial_id: self._take_over(old, values, budget)
            for old, values in ordered
        }

    def _take_over(self, old, values, budget):
        """Adds an earlier trial as a completed one; returns its new id."""
        trial_id = compat.next_trial_id(self, budget)
        hyperparameters = self.hyperparameters.copy()
        hyperparameters.values = dict(values)
        trial = kt.engine.trial.Trial(
            hyperparameters, trial_id, kt.engine.trial.TrialStatus.COMPLETED
        )
        trial.metrics, trial.score = old.metrics, old.score
        trial.best_step = old.best_step
        trial.message = f"{TAKEN_OVER} (its trial {old.trial_id})"
        self.trials[trial_id] = trial
        self.start_order.append(trial_id)
        self.end_order.append(trial_id)
        self._taken_over.append(trial_id)
        compat.record_values(self, trial)
        compat.run_times(self)[trial_id] = 1
        os.makedirs(compat.trial_dir(self, trial_id), exist_ok=True)
        self._save_trial(trial)
        return trial_id

    @property
    def taken_over(self):
        """The ids of the trials `warm_start` took over, in order."""
        return list(self._taken_over)

    def warm_start_size(self):
        """Architectures of another data set a warm start proposes first.

        A quarter of the budget (at least one); population strategies
        override it with their population size.
        """
        return max(1, self.trial_budget // 4)

    def _in_space(self, values):
        """The active values of an architecture in this space, or `None`."""
        try:
            return self.encoding.decode(self.encoding.encode(values))
        except (ValueError, KeyError):
            return None

    @kt.synchronized
    def create_trial(self, tuner_id):
        """KerasTuner's `create_trial`, for a worker started again too.

        A tuner id that asks while it holds a running trial is a distributed
        worker started again after it died (`keras_nas.engine.distributed`):
        KerasTuner hands it the same trial, which it trains from the start,
        so the epochs the dead process reported are dropped here (KerasTuner
        would average them with the new ones).
        """
        trial = self.ongoing_trials.get(tuner_id)
        if trial is not None:
            trial.metrics = type(trial.metrics)()
        return super().create_trial(tuner_id)

    def populate_space(self, trial_id):
        if self.multi_objective:
            self._draw_scalarisation()
        self._absorb_results()
        values = self._warm_proposal() or self._screened_proposal(trial_id)
        if values is None:
            return {"status": kt.engine.trial.TrialStatus.STOPPED, "values": None}
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}

    def _warm_proposal(self):
        """The next untried architecture queued by `warm_start`, or `None`."""
        while self._warm_queue:
            values = self._warm_queue.pop(0)
            if self.is_new(values):
                return values
        return None

    def _screened_proposal(self, trial_id):
        """`propose`, screened by the cost model once a trial was infeasible.

        While the strategy proposes, `is_new` also refuses architectures
        predicted over the screen's threshold (`_screen_threshold`), so a
        strategy that picks the first new one among its candidates picks
        one within it; a proposal still predicted over it is asked again,
        up to `SCREEN_ATTEMPTS` times, and the one predicted cheapest
        relative to the budgets is taken. When the screened strategy has
        nothing left, it proposes unscreened.
        """
        model = self._cost_model()
        if model is None:
            return self.propose(trial_id)
        threshold = self._screen_threshold(model)
        best, best_ratio = None, math.inf
        self._screen = (model, threshold)
        try:
            for _ in range(SCREEN_ATTEMPTS):
                values = self.propose(trial_id)
                if values is None:
                    break
                ratio = model.ratio(self.encoding.encode(values))
                if ratio < best_ratio:
                    best, best_ratio = values, ratio
                if best_ratio <= threshold:
                    break
        finally:
            self._screen = None
        return best if best is not None else self.propose(trial_id)

    def _screen_threshold(self, model):
        """The predicted ratio to budget a screened proposal may reach.

        1 (within every budget) when the model predicts some architectures
        within budget; otherwise, so that the search moves towards the
        cheap end of the space instead of stalling, the
        `SCREEN_QUANTILE` of the predictions for `SCREEN_SAMPLE` random
        architectures (drawn from a generator seeded by the seed and the
        trial count, so a reloaded search screens alike).
        """
        rng = np.random.default_rng([self.seed, len(self.trials)])
        ratios = [
            model.ratio(self.encoding.random_vector(rng))
            for _ in range(SCREEN_SAMPLE)
        ]
        return max(1.0, float(np.quantile(ratios, SCREEN_QUANTILE)))

    def _cost_model(self):
        """A `CostModel` of the measured costs, once a trial was infeasible."""
        if not self.limits:
            return None
        trials = [
            t for t in self.trials.values()
            if t.status in ("COMPLETED", "FAILED")
        ]
        if not any(map(costs.is_infeasible, trials)):
            return None
        measured = [
            {
                name: t.metrics.get_history(name)[-1].mean()
                for name in self.limits
                if t.metrics.exists(name)
            }
            for t in trials
        ]
        vectors = [self.vector(t.trial_id) for t in trials]
        return CostModel(self.limits, self.encoding.cardinalities).fit(
            vectors, measured
        )

    def is_new(self, values):
        """Whether no trial so far has used these values.

        While a proposal is screened (see `_screened_proposal`), also
        whether the architecture is predicted within the budgets.
        """
        if compat.is_duplicate(self, values):
            return False
        if self._screen is None:
            return True
        model, threshold = self._screen
        return model.ratio(self.encoding.encode(values)) <= threshold

    @property
    def objectives(self):
        """The single `keras_tuner.Objective`s searched: one, or a list's."""
        return compat.single_objectives(self.objective)

    @property
    def multi_objective(self):
        """Whether the objective is a list (KerasTuner's `MultiObjective`)."""
        return compat.is_multi_objective(self.objective)

    def objective_values(self, trial_id):
        """Each objective's value in a trial, in the objectives' order.

        Returns:
            A float array, or `None` if the trial lacks a finite value of
            one of them (see `keras_nas.objectives.pareto.trial_values`).
        """
        return pareto.trial_values(self.trials[trial_id], self.objectives)

    def score_trial(self, trial):
        """Scores a completed trial; a list objective by its own metrics.

        One objective: KerasTuner's score, the best value of its metric.
        Several: the score is KerasTuner's `MultiObjective` value (the sum
        of the minimised objectives minus the sum of the maximised ones,
        each at its best, see `objective_values`), computed from each
        objective's own metric, so that KerasTuner's displays and
        `get_best_trials` work; no keras-nas strategy reads it. The best
        step is the first objective's.
        """
        if not self.multi_objective:
            super().score_trial(trial)
            return
        values = pareto.trial_values(trial, self.objectives)
        if values is None:
            trial.score, trial.best_step = math.nan, None
            return
        signs = [1.0 if o.direction == "min" else -1.0 for o in self.objectives]
        trial.score = float(np.dot(signs, values))
        history = trial.metrics.get_history(self.objectives[0].name)
        best = values[0]
        trial.best_step = next(o.step for o in history if o.mean() == best)

    def fitness(self, trial_id):
        """How good a trial is, a number where higher is always better.

        One objective: the trial's score, signed by the direction. Several:
        minus the ParEGO scalarisation drawn for the current proposal (see
        the class docstring), which is only comparable within a proposal.
        """
        if not self.multi_objective:
            score = self.trials[trial_id].score
            return score if self.objective.direction == "max" else -score
        if self._scalarisation is None:  # Outside a proposal: equal weights.
            count = len(self.objectives)
            self._scalarisation = self._scalarisation_for(np.full(count, 1 / count))
        weights, low, spread = self._scalarisation
        costs = pareto.minimisation(self.objective_values(trial_id), self.objectives)
        weighted = weights * (costs[0] - low) / spread
        return -float(weighted.max() + SCALARISATION_RHO * weighted.sum())

    def _draw_scalarisation(self):
        """Draws the scalarisation of a proposal (`fitness`)."""
        weights = self.weights_rng.dirichlet(np.ones(len(self.objectives)))
        self._scalarisation = self._scalarisation_for(weights)

    def _scalarisation_for(self, weights):
        """Weights, with the lower bound and range of each objective to minimise.

        The bounds are those of the completed trials.
        """
        points = [
            v for v in map(self.objective_values, self.completed()) if v is not None
        ]
        if points:
            costs = pareto.minimisation(points, self.objectives)
            low, high = costs.min(axis=0), costs.max(axis=0)
        else:
            low = high = np.zeros(len(weights))
        return weights, low, np.where(high > low, high - low, 1.0)

    def completed(self):
        """The ids of the completed trials, in the order they ended."""
        status = kt.engine.trial.TrialStatus.COMPLETED
        return [t for t in self.end_order if self.trials[t].status == status]

    def learnt(self):
        """The completed trials `on_result` has taken in, in the order it did."""
        return [
            t for t in self.end_order[: self._absorbed] if self._usable(t)
        ]

    def get_pareto_front(self):
        """The completed trials no other completed trial dominates.

        With one objective, the trials of the best score. See
        `keras_nas.objectives.pareto.pareto_front`.

        Returns:
            A list of `keras_tuner.engine.trial.Trial`, in the order they
            were created.
        """
        return pareto.pareto_front(self.trials.values(), self.objectives)

    def vector(self, trial_id):
        """The encoding vector of a trial's architecture."""
        return self.encoding.encode(self.trials[trial_id].hyperparameters.values)

    def random_new(self, transform=None):
        """Returns the values of an untried random architecture.

        Args:
            transform: Optional function applied to each random vector
                (NEAT starts from minimal topologies through it).

        Returns:
            The values, or `None` when every architecture was tried.
        """
        for _ in range(_ATTEMPTS):
            vector = self.encoding.random_vector(self.rng)
            if transform is not None:
                vector = transform(vector)
            values = self.encoding.decode(vector)
            if self.is_new(values):
                return values
        return self.untried_at_random()

    def untried_at_random(self):
        """Picks uniformly among the architectures no trial has used.

        Lists the whole space, so it is meant as the last resort of a
        strategy whose own proposals keep repeating.

        Returns:
            The values of an untried architecture, or `None` when every one
            was tried or the space is continuous or too large to list.
        """
        encoding = self.encoding
        if not encoding.exact or encoding.count() > _EXHAUSTIVE_LIMIT:
            return None
        untried = [
            values
            for values in map(encoding.decode, encoding.enumerate())
            if self.is_new(values)
        ]
        if not untried:
            return None
        return untried[int(self.rng.integers(len(untried)))]

    def _usable(self, trial_id):
        """Whether a trial is completed with a finite score."""
        trial = self.trials[trial_id]
        completed = trial.status == kt.engine.trial.TrialStatus.COMPLETED
        return completed and trial.score is not None and math.isfinite(trial.score)

    def _absorb_results(self):
        while self._absorbed < len(self.end_order):
            trial_id = self.end_order[self._absorbed]
            if self._usable(trial_id):
                self.on_result(trial_id)
            self._absorbed += 1

    def save(self):
        write_json_atomically(compat.oracle_file(self), self.get_state())

    def _save_trial(self, trial):
        path = os.path.join(compat.trial_dir(self, trial.trial_id), "trial.json")
        write_json_atomically(path, trial.get_state())

    def _state_files(self):
        """`oracle.json` and every trial's `trial.json`."""
        project = compat.project_dir(self)
        trials = sorted(
            tf.io.gfile.glob(os.path.join(project, "trial_*", "trial.json"))
        )
        return [compat.oracle_file(self), *trials]

    def _remove_stale_temporaries(self):
        """Removes temporary files a killed search left in its folders."""
        project = compat.project_dir(self)
        remove_stale_temporaries(project)
        for folder in glob.glob(os.path.join(project, "trial_*")):
            remove_stale_temporaries(folder)

    def reload(self):
        try:
            super().reload()
        except ValueError as error:
            # KerasTuner's JSON errors name no file ("Unterminated string
            # starting at: line 1 column 2610"): find the one that is corrupt.
            corrupt = first_corrupt_json(self._state_files())
            if corrupt is None:
                raise
            raise corrupt from error
        self._remove_stale_temporaries()
        self._recover_unsaved_trials()
        if self.early_stopping is not None:
            self._record_curves()
        # KerasTuner reads the trial files in the order the file system lists
        # them; restore the order the trials started in, which decides, for
        # example, which of two equal scores `get_best_trials` returns.
        started = {trial_id: i for i, trial_id in enumerate(self.start_order)}
        self.trials = dict(
            sorted(
                self.trials.items(),
                key=lambda item: (started.get(item[0], len(started)), int(item[0])),
            )
        )

    def _recover_unsaved_trials(self):
        """Squares the oracle state with the trial files after a crash.

        KerasTuner writes a trial's file, then `oracle.json`. A crash between
        the two leaves a trial that ended in its own file only (it would run
        again) or one that was created in its own file only (it would never
        run). The first is ended, the second queued to run. KerasTuner's
        `end_trial` also writes `oracle.json` before it drops the ended trial
        from the ongoing ones, and `reload` queues the ongoing trials to run
        again; a crash just after that write would run an ended trial
        again, so ended trials leave the queue.
        """
        status = kt.engine.trial.TrialStatus
        ended = set(self.end_order)
        retry_queue, run_times = compat.retry_queue(self), compat.run_times(self)
        for trial_id in sorted(self.trials):
            trial = self.trials[trial_id]
            if trial_id in ended:
                if trial_id in retry_queue:
                    retry_queue.remove(trial_id)
                continue
            if trial.status in (status.COMPLETED, status.FAILED):
                self.end_order.append(trial_id)
                self._unrecorded_curves.append(trial_id)
                if (trial.message or "").startswith(TAKEN_OVER):
                    self._recover_taken_over(trial)
                if trial_id in retry_queue:
                    retry_queue.remove(trial_id)
                run_times[trial_id] = max(run_times[trial_id], 1)
            elif trial_id not in retry_queue:
                trial.status = status.RUNNING
                retry_queue.append(trial_id)
                if trial_id not in self.start_order:
                    self.start_order.append(trial_id)
                compat.record_values(self, trial)

    def _recover_taken_over(self, trial):
        """Records a trial `warm_start` took over just before a crash."""
        self._taken_over.append(trial.trial_id)
        self._warm_started = True
        compat.record_values(self, trial)
        if trial.trial_id not in self.start_order:
            self.start_order.append(trial.trial_id)

    def get_state(self):
        state = super().get_state()
        state["rng_state"] = self.rng.bit_generator.state
        state["absorbed"] = self._absorbed
        state["warm_start"] = {
            "started": self._warm_started,
            "taken_over": list(self._taken_over),
            "queue": list(self._warm_queue),
        }
        if self.early_stopping is not None:
            state["early_stopping"] = {
                "config": self.early_stopping.get_config(),
                "state": self.early_stopping.get_state(),
            }
        if self.multi_objective:
            state["weights_rng_state"] = self.weights_rng.bit_generator.state
        return state

    def set_state(self, state):
        super().set_state(state)
        self.rng = np.random.default_rng()
        self.rng.bit_generator.state = state["rng_state"]
        self._absorbed = state["absorbed"]
        warm = state.get("warm_start", {})
        self._warm_started = warm.get("started", False)
        self._taken_over = list(warm.get("taken_over", []))
        self._warm_queue = list(warm.get("queue", []))
        self._early_stopping_state = state.get("early_stopping")
        self._unrecorded_curves = []
        if self.early_stopping is not None:
            self.set_early_stopping(self.early_stopping)
        if self.multi_objective:
            self.weights_rng = np.random.default_rng()
            self.weights_rng.bit_generator.state = state["weights_rng_state"]
        self._scalarisation = None


def _mark_stopped(metrics, epoch):
    """Records in a trial's metrics that it stopped after `epoch` (from 1)."""
    if not metrics.exists(STOPPED_EARLY):
        metrics.register(STOPPED_EARLY, direction="min")
    metrics.update(STOPPED_EARLY, float(epoch), step=epoch - 1)
