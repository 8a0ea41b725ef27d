"""Search strategies, each a `keras_tuner.Oracle`.

They are listed by name in `keras_nas.strategies`, with DARTS.
"""

from keras_nas.oracles import operators
from keras_nas.oracles import ranking
from keras_nas.oracles.base import NASOracle
from keras_nas.oracles.bayesian import BayesianOracle
from keras_nas.oracles.controller import ControllerOracle
from keras_nas.oracles.dls import DLSOracle
from keras_nas.oracles.genetic import GeneticOracle
from keras_nas.oracles.grid_search import GridSearchOracle
from keras_nas.oracles.neat import NEATOracle
from keras_nas.oracles.nsga2 import NSGA2Oracle
from keras_nas.oracles.population import PopulationOracle
from keras_nas.oracles.q_learning import QLearningOracle
from keras_nas.oracles.random_search import RandomSearchOracle
from keras_nas.oracles.regularized_evolution import RegularizedEvolutionOracle
from keras_nas.oracles.reinforce import ReinforceOracle
