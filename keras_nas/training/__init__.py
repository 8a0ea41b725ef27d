"""One trial's training, below the search loop and the run folder: `fit_trial`
(the path every trial, final fit and promotion takes), its best-weights
checkpoint, its callbacks (NaN, deadlines), the failures it reports and the
registry of custom gradients it releases."""
