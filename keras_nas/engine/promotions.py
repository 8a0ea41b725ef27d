"""The last phase of an early-stopped search: pending promotions.

An asynchronous scheduler judges each trial against the trials recorded
before it, so when the budget of new trials runs out some stopped trials
rank in the top `1/eta` of their rung (ASHA's pending promotions) and,
with more trials to come, would have gone on. `train_on_promotions` trains
them again, from scratch and to the full epochs, the latest rung first,
each judged at the rungs above the one it was stopped at like any trial
(see `keras_nas.oracles.early_stopping`). So the best stopped
architectures, not only the few that won their rungs early, end the
search trained on every epoch, which is what `export` picks from.
"""

from keras_tuner.engine.trial import TrialStatus

from keras_nas.training.time_limit import TimeLimitReached


def train_on_promotions(tuner, fit_args, fit_kwargs):
    """Trains every pending promotion of the tuner's scheduler.

    Runs in the search's process (a distributed search's chief, after its
    workers finished). A trial whose training fails keeps its earlier
    results; the time limit stops the phase, and the trial in training is
    promoted again on resume.

    Args:
        tuner: The `NASTuner`, its oracle holding the scheduler.
        fit_args: The search's positional `fit` arguments.
        fit_kwargs: Its keyword arguments.
    """
    oracle = tuner.oracle
    while (trial := oracle.next_promotion()) is not None:
        earlier = oracle.begin_promotion(trial)
        tuner.progress.on_promotion(trial, oracle.early_stopping.promoted[trial.trial_id])
        tuner.on_trial_begin(trial)
        try:
            tuner._try_run_and_update_trial(trial, *fit_args, **fit_kwargs)
        except TimeLimitReached:
            oracle.abandon_promotion(trial, earlier)
            raise
        oracle.end_promotion(trial, earlier, failed=trial.status == TrialStatus.FAILED)
        tuner.print_trial_end(trial)
