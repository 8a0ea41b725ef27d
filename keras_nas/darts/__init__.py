"""One-shot differentiable architecture search (DARTS) on keras-nas spaces.

`DartsSearch` is the entry point; the modules hold one job each:
`mixed` (the mixed operation), `networks` (the supernet a space describes
in its `supernet` hook, see `keras_nas.spaces.SupernetSpec`),
`supernet` (the model and its bilevel `train_step`), `bilevel` (the
architecture gradients, paired data), `derive` (logits to architecture),
`collapse` (the DARTS+ collapse guard), `one_shot` (a search kept in a run
folder, resumable per epoch), `heatmap` (the PNG of the weights) and
`oracle` (`DartsOracle`, through which `NASTuner(strategy="darts")` retrains
and exports the derived architecture like any trial).
"""

from keras_nas.darts.bilevel import first_order_gradient
from keras_nas.darts.bilevel import paired_dataset
from keras_nas.darts.bilevel import second_order_gradient
from keras_nas.darts.collapse import CollapseGuard
from keras_nas.darts.collapse import parameter_free_decisions
from keras_nas.darts.derive import alpha_weights
from keras_nas.darts.derive import derive
from keras_nas.darts.derive import strongest_operation
from keras_nas.darts.mixed import MixedOp
from keras_nas.darts.networks import supernet_spec
from keras_nas.darts.one_shot import OneShotRun
from keras_nas.darts.oracle import DartsOracle
from keras_nas.darts.search import DartsSearch
from keras_nas.darts.supernet import DartsSupernet
from keras_nas.darts.supernet import build_supernet
from keras_nas.spaces.supernet import SupernetSpec
