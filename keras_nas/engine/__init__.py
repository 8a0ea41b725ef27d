"""The search loop: `NASTuner`, a trial in a child process, promotions,
progress lines, TensorBoard logs, warm starts and the local chief/worker
launcher. One trial's training is `keras_nas.training`."""
