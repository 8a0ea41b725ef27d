"""Deep-learning search: encoder, predictor, decoder (after NAO, Luo et al. 2018)."""

import keras
import numpy as np
import tensorflow as tf

from keras_nas import validation
from keras_nas.encoding import INACTIVE
from keras_nas.oracles import operators
from keras_nas.oracles.controller import ControllerOracle
from keras_nas.oracles.controller import controller_scope
from keras_nas.oracles.ranking import quantile_ranks

_BATCH_SIZE = 100
_MUTATION_ATTEMPTS = 20


def default_num_initial_points(max_trials):
    """20 random architectures, or a fifth of the budget (at least 5)."""
    return min(20, max(5, max_trials // 5))


class NAOController:
    """Encoder, performance predictor and decoder around a unit-norm latent.

    The encoder maps an architecture (one one-hot vector per slot, with an
    extra "inactive" token) to a latent vector of unit length; the decoder
    maps a latent vector back to one softmax distribution per slot (over its
    values and the inactive token); the predictor maps it to a score in
    [0, 1]. All three are small multi-layer perceptrons trained jointly with
    `prediction_weight * MSE + (1 - prediction_weight) * cross-entropy`.

    Args:
        cardinalities: Number of values of each slot.
        latent_dim: Size of the latent vector.
        hidden_units: Width of each network's hidden layer.
        learning_rate: Adam's learning rate.
        prediction_weight: Weight of the prediction loss, in (0, 1); the
            reconstruction loss gets the rest.
        seeds: A function from an initialiser's index to its seed.
    """

    def __init__(
        self,
        cardinalities,
        latent_dim,
        hidden_units,
        learning_rate,
        prediction_weight,
        seeds,
    ):
        self.cardinalities = np.asarray(cardinalities, dtype=np.int64)
        num_slots = len(self.cardinalities)
        # Columns 0..card-1 hold a slot's values, the last its inactive token.
        self.width = int(self.cardinalities.max()) + 1
        self.input_size = num_slots * self.width
        valid = np.arange(self.width)[None, :] < self.cardinalities[:, None]
        valid[:, -1] = True
        self._logit_mask = tf.constant(np.where(valid, 0.0, -1e9), tf.float32)
        self.prediction_weight = float(prediction_weight)

        def dense(units, index, activation=None):
            return keras.layers.Dense(
                units,
                activation=activation,
                kernel_initializer=keras.initializers.GlorotUniform(seeds(index)),
            )

        architecture = keras.Input((self.input_size,))
        latent = keras.layers.UnitNormalization()(
            dense(latent_dim, 1)(dense(hidden_units, 0, "tanh")(architecture))
        )
        self.encoder = keras.Model(architecture, latent, name="dls_encoder")
        code = keras.Input((latent_dim,))
        logits = keras.layers.Reshape((num_slots, self.width))(
            dense(self.input_size, 3)(dense(hidden_units, 2, "tanh")(code))
        )
        self.decoder = keras.Model(code, logits, name="dls_decoder")
        score = dense(1, 5, "sigmoid")(dense(hidden_units, 4, "tanh")(code))
        self.predictor = keras.Model(code, score, name="dls_predictor")
        self.models = (self.encoder, self.decoder, self.predictor)
        self.trainable_variables = [
            v for model in self.models for v in model.trainable_variables
        ]
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.optimizer.build(self.trainable_variables)

        self._train_step = tf.function(
            self._train_step_fn,
            input_signature=[
                tf.TensorSpec([None, self.input_size], tf.float32),
                tf.TensorSpec([None, num_slots], tf.int32),
                tf.TensorSpec([None], tf.float32),
            ],
        )
        self._generate = tf.function(
            self._generate_fn,
            input_signature=[
                tf.TensorSpec([None, self.input_size], tf.float32),
                tf.TensorSpec([None], tf.float32),
            ],
        )
        self._encode = tf.function(
            self.encoder,
            input_signature=[tf.TensorSpec([None, self.input_size], tf.float32)],
        )
        self._latent_signature = [tf.TensorSpec([None, latent_dim], tf.float32)]
        self._decode = tf.function(
            self._decode_fn, input_signature=self._latent_signature
        )
        self._predict = tf.function(
            self._predict_fn, input_signature=self._latent_signature
        )
        self._gradient = tf.function(
            self._gradient_fn, input_signature=self._latent_signature
        )

    @property
    def variables(self):
        """The three networks' weights, then Adam's state (for saving)."""
        weights = [v for model in self.models for v in model.weights]
        return weights + list(self.optimizer.variables)

    # ------------------------------------------------------------- features

    def tokens(self, vectors):
        """Token index per slot: the value's index, or the inactive column."""
        vectors = np.asarray(vectors, dtype=np.int64)
        return np.where(vectors == INACTIVE, self.width - 1, vectors).astype(np.int32)

    def one_hot(self, vectors):
        """The encoder's input for canonical vectors, shape `(n, input_size)`."""
        tokens = self.tokens(vectors)
        out = np.zeros(tokens.shape + (self.width,), dtype=np.float32)
        np.put_along_axis(out, tokens[..., None], 1.0, axis=-1)
        return out.reshape(len(tokens), self.input_size)

    def to_vectors(self, tokens):
        """Decoded token indices back to (not yet repaired) vectors."""
        tokens = np.asarray(tokens, dtype=np.int64)
        return np.where(tokens == self.width - 1, INACTIVE, tokens)

    # ------------------------------------------------------------- training

    def _losses(self, inputs, tokens, targets):
        latent = self.encoder(inputs)
        logits = self.decoder(latent) + self._logit_mask
        reconstruction = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(tokens, logits)
        )
        prediction = tf.reduce_mean(
            tf.square(tf.squeeze(self.predictor(latent), -1) - targets)
        )
        return prediction, reconstruction

    def _train_step_fn(self, inputs, tokens, targets):
        with tf.GradientTape() as tape:
            prediction, reconstruction = self._losses(inputs, tokens, targets)
            loss = (
                self.prediction_weight * prediction
                + (1.0 - self.prediction_weight) * reconstruction
            )
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        return prediction, reconstruction

    def train(self, vectors, targets, steps, rng):
        """Trains the three networks on architectures and their targets.

        Args:
            vectors: Canonical vectors of the evaluated architectures.
            targets: Their target scores, in [0, 1].
            steps: Number of Adam steps (full batch up to 100 architectures,
                else random batches of 100).
            rng: A `numpy.random.Generator` drawing the batches.

        Returns:
            The last step's (prediction MSE, reconstruction cross-entropy).
        """
        inputs = self.one_hot(vectors)
        tokens = self.tokens(vectors)
        targets = np.asarray(targets, dtype=np.float32)
        losses = (np.nan, np.nan)
        with controller_scope():
            for _ in range(steps):
                batch = slice(None)
                if len(inputs) > _BATCH_SIZE:
                    batch = rng.choice(len(inputs), _BATCH_SIZE, replace=False)
                losses = self._train_step(inputs[batch], tokens[batch], targets[batch])
        return tuple(float(v) for v in losses)

    # ------------------------------------------------------------ inference

    def _decode_fn(self, latent):
        return tf.argmax(self.decoder(latent) + self._logit_mask, axis=-1)

    def _predict_fn(self, latent):
        return tf.squeeze(self.predictor(latent), -1)

    def _gradient_fn(self, latent):
        with tf.GradientTape() as tape:
            tape.watch(latent)
            score = tf.reduce_sum(self.predictor(latent))
        return tape.gradient(score, latent)

    def _generate_fn(self, inputs, step_sizes):
        latent = self.encoder(inputs)
        direction = tf.math.l2_normalize(self._gradient_fn(latent), axis=-1)
        moved = latent[:, None, :] + step_sizes[None, :, None] * direction[:, None, :]
        moved = tf.math.l2_normalize(moved, axis=-1)
        shape = tf.shape(moved)
        flat = tf.reshape(moved, [shape[0] * shape[1], shape[2]])
        decoded = self._decode_fn(flat)
        return tf.reshape(decoded, [shape[0], shape[1], -1])

    def encode(self, vectors):
        """Latent vectors of canonical vectors, shape `(n, latent_dim)`."""
        with controller_scope():
            return self._encode(self.one_hot(vectors)).numpy()

    def decode(self, latent):
        """Most likely token per slot of latent vectors (before repair)."""
        with controller_scope():
            tokens = self._decode(np.asarray(latent, dtype=np.float32)).numpy()
        return self.to_vectors(tokens)

    def predict(self, latent):
        """Predicted scores of latent vectors, shape `(n,)`."""
        with controller_scope():
            return self._predict(np.asarray(latent, dtype=np.float32)).numpy()

    def gradient(self, latent):
        """Gradient of the predicted score with respect to latent vectors."""
        with controller_scope():
            return self._gradient(np.asarray(latent, dtype=np.float32)).numpy()

    def generate(self, vectors, step_sizes):
        """Moves architectures up the predictor's gradient and decodes them.

        Each architecture's latent vector `z` moves to
        `normalize(z + step * g / |g|)` for each step size, `g` being the
        gradient of the predicted score at `z`.

        Args:
            vectors: Canonical vectors of the architectures to start from.
            step_sizes: Increasing step sizes, in latent units.

        Returns:
            An int64 array `(len(vectors), len(step_sizes), num_slots)` of
            decoded (not yet repaired) vectors.
        """
        with controller_scope():
            tokens = self._generate(
                self.one_hot(vectors), np.asarray(step_sizes, dtype=np.float32)
            ).numpy()
        return self.to_vectors(tokens)


class DLSOracle(ControllerOracle):
    """Deep-learning search: gradient ascent in a learned architecture space.

    After Neural Architecture Optimization (Luo et al., NeurIPS 2018). Three
    small Keras networks share a continuous latent space: an encoder (an
    architecture's encoding, one-hot per decision, to a unit-length latent
    vector), a performance predictor on the latent vector, and a decoder
    back to one softmax distribution per decision. They are trained
    together on the finished trials with
    `prediction_weight * MSE(predicted, target)
    + (1 - prediction_weight) * cross-entropy(reconstruction)`; the target
    is the trial's score as a quantile rank among all results (0 the worst,
    1 the best), which is blind to the metric's scale and to outliers such
    as diverged trainings.

    The first `num_initial_points` proposals are random. Then each proposal
    takes one of the `num_seeds` best architectures at random, moves its
    latent vector up the gradient of the predictor with step sizes
    `step_size, 2 * step_size, ..., max_steps * step_size` (increasing until
    the decoded architecture is new, as in NAO), and decodes it (the most
    likely value per decision, then `ArchitectureEncoding.repair`). When no
    step yields a new architecture, from that seed or from the other best
    ones, it proposes a point mutation of the seed, and else an untried
    random architecture. The networks are retrained, from their current
    weights, every `retrain_every` finished trials. Their weights and
    Adam's state are saved beside the oracle's state and restored by
    `reload()`.

    `predictions` maps each trial the controller proposed to the score it
    predicted (on its quantile-rank scale), kept in the oracle state so a
    report can set it against the measured one.

    Args:
        objective: Name of the metric to optimise, or a
            `keras_tuner.Objective`.
        max_trials: Number of trials to run at most.
        seed: Random seed.
        num_initial_points: Random architectures before the first training;
            `None` for 20, or a fifth of `max_trials` (at least 5) when that
            is smaller.
        retrain_every: Finished trials between two trainings.
        latent_dim: Size of the latent vector.
        hidden_units: Width of the hidden layer of each network.
        prediction_weight: Weight of the prediction loss, in (0, 1) (NAO's
            trade-off, 0.8); the reconstruction loss gets the rest.
        learning_rate: Adam's learning rate.
        train_steps: Adam steps per retraining (twice as many the first
            time).
        num_seeds: How many of the best architectures proposals start from.
        step_size: First (and increment of the) step size, in units of the
            unit-length latent vector.
        max_steps: Number of increasing step sizes tried per seed.
        **kwargs: Further arguments of `keras_tuner.Oracle`.

    Example:

    ```python
    oracle = DLSOracle("val_accuracy", max_trials=100, seed=1)
    tuner = keras_nas.NASTuner(space, strategy=oracle)
    ```
    """

    controller_file_prefix = "dls"

    def __init__(
        self,
        objective=None,
        max_trials=10,
        seed=None,
        num_initial_points=None,
        retrain_every=5,
        latent_dim=16,
        hidden_units=64,
        prediction_weight=0.8,
        learning_rate=0.005,
        train_steps=100,
        num_seeds=5,
        step_size=0.1,
        max_steps=20,
        **kwargs,
    ):
        super().__init__(
            objective=objective, max_trials=max_trials, seed=seed, **kwargs
        )
        if num_initial_points is None:
            num_initial_points = default_num_initial_points(max_trials)
        self.num_initial_points = validation.check_positive_int(
            "num_initial_points", num_initial_points
        )
        self.retrain_every = validation.check_positive_int(
            "retrain_every", retrain_every
        )
        self.latent_dim = validation.check_positive_int("latent_dim", latent_dim)
        self.hidden_units = validation.check_positive_int("hidden_units", hidden_units)
        self.prediction_weight = validation.check_fraction(
            "prediction_weight", prediction_weight
        )
        self.learning_rate = validation.check_positive_float("learning_rate", learning_rate)
        self.train_steps = validation.check_positive_int("train_steps", train_steps)
        self.num_seeds = validation.check_positive_int("num_seeds", num_seeds)
        self.step_size = validation.check_positive_float("step_size", step_size)
        self.max_steps = validation.check_positive_int("max_steps", max_steps)
        self.results = []
        self.untrained_results = 0
        self.predictions = {}

    @property
    def step_sizes(self):
        """The increasing step sizes tried from each seed."""
        return self.step_size * np.arange(1, self.max_steps + 1)

    def build_controller(self):
        return NAOController(
            self.encoding.cardinalities,
            self.latent_dim,
            self.hidden_units,
            self.learning_rate,
            self.prediction_weight,
            self.controller_seed,
        )

    def on_result(self, trial_id):
        self.results.append(trial_id)
        self.untrained_results += 1
        if len(self.results) < self.num_initial_points or not len(self.encoding):
            return
        if self.controller_updates and self.untrained_results < self.retrain_every:
            return
        self.train()

    def train(self):
        """Trains the controller on every result so far (from its weights).

        Returns:
            The last step's (prediction MSE, reconstruction cross-entropy).
        """
        controller = self.controller  # Rebuilt (untrained) if the space grew.
        steps = self.train_steps if self.controller_updates else 2 * self.train_steps
        vectors = np.stack([self.vector(t) for t in self.results])
        targets = quantile_ranks([self.fitness(t) for t in self.results])
        losses = controller.train(vectors, targets, steps, self.rng)
        self.untrained_results = 0
        self.controller_updated()
        return losses

    def best(self, count):
        """The trial ids of the `count` best results, best first."""
        ranked = sorted(
            range(len(self.results)),
            key=lambda i: (-self.fitness(self.results[i]), i),
        )
        return [self.results[i] for i in ranked[:count]]

    def propose(self, trial_id):
        if len(self.results) < self.num_initial_points or not len(self.encoding):
            return self.random_new()
        controller = self.controller
        if not self.controller_updates:
            self.train()  # The space grew: the controller was rebuilt.
        encoding = self.encoding
        seeds = self.best(self.num_seeds)
        first = int(self.rng.integers(len(seeds)))
        order = [first] + [i for i in range(len(seeds)) if i != first]
        seed_vectors = np.stack([self.vector(t) for t in seeds])
        generated = controller.generate(seed_vectors[order], self.step_sizes)
        for candidates in generated:
            for vector in candidates:
                repaired = encoding.repair(vector, self.rng)
                values = encoding.decode(repaired)
                if self.is_new(values):
                    latent = controller.encode(np.array([repaired]))
                    self.predictions[trial_id] = float(controller.predict(latent)[0])
                    return values
        for vector in seed_vectors[order]:
            for _ in range(_MUTATION_ATTEMPTS):
                child = operators.point_mutation(encoding, vector, self.rng)
                values = encoding.decode(child)
                if self.is_new(values):
                    return values
        return self.random_new()

    def get_state(self):
        state = super().get_state()
        state["results"] = list(self.results)
        state["untrained_results"] = self.untrained_results
        state["predictions"] = dict(self.predictions)
        return state

    def set_state(self, state):
        super().set_state(state)
        self.results = list(state["results"])
        self.untrained_results = state["untrained_results"]
        self.predictions = dict(state.get("predictions", {}))
