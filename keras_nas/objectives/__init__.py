"""Objectives beyond a task's metrics: costs, budgets, Pareto fronts, selection."""

from keras_nas.objectives import costs
from keras_nas.objectives import pareto
from keras_nas.objectives.costs import Constraints
from keras_nas.objectives.pareto import crowding_distance
from keras_nas.objectives.pareto import hypervolume
from keras_nas.objectives.pareto import non_dominated_ranks
from keras_nas.objectives.pareto import non_dominated_sort
from keras_nas.objectives.pareto import pareto_front
from keras_nas.objectives.selection import parse_rule
from keras_nas.objectives.selection import select_trial
