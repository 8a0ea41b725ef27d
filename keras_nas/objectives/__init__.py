"""Objectives beyond a task's metrics: choosing among several."""

from keras_nas.objectives.selection import parse_rule
from keras_nas.objectives.selection import select_trial
