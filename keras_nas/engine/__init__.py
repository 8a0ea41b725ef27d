"""The search loop: `NASTuner`, one trial's path (in process or in a child),
its callbacks (best weights, NaN, deadlines), failures, progress lines and
the local chief/worker launcher."""
