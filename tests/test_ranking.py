"""Tests for keras_nas.oracles.ranking, the rank normalisation of scores."""

import numpy as np
import pytest

from keras_nas.oracles.ranking import mid_ranks
from keras_nas.oracles.ranking import normal_scores
from keras_nas.oracles.ranking import ordinal_ranks
from keras_nas.oracles.ranking import quantile_rank
from keras_nas.oracles.ranking import quantile_ranks


def test_ordinal_and_mid_ranks():
    assert ordinal_ranks([0.3, 0.1, 0.2]).tolist() == [3, 1, 2]
    assert mid_ranks([3.0, 1.0, 2.0, 2.0, 2.0]).tolist() == [4.0, 0.0, 2.0, 2.0, 2.0]
    assert mid_ranks([]).tolist() == []


def test_quantile_ranks():
    np.testing.assert_allclose(quantile_ranks([3.0, 1.0, 2.0, 2.0]), [1, 0, 0.5, 0.5])
    np.testing.assert_allclose(quantile_ranks([7.0]), [0.5])
    assert quantile_ranks([]).tolist() == []


def test_quantile_rank_is_the_last_of_the_quantile_ranks():
    assert quantile_rank(5.0, []) == 0.5
    assert quantile_rank(2.0, [1.0, 3.0]) == 0.5
    assert quantile_rank(2.0, [2.0, 1.0, 1.0, 3.0]) == pytest.approx(2.5 / 4)
    others = [0.4, 0.1, 0.4, 0.9]
    for value in (0.0, 0.1, 0.4, 0.5, 1.0):
        rank = quantile_rank(value, others)
        assert isinstance(rank, float)
        assert rank == quantile_ranks([*others, value])[-1]


def test_normal_scores_keep_order_and_share_ties():
    scores = normal_scores([10.0, 0.1, 11.0, 10.0, 99.0])
    assert scores[4] > scores[2] > scores[0] == scores[3] > scores[1]
    assert abs(normal_scores([3.0, 1.0, 2.0, 5.0]).mean()) < 1e-12
    # A far outlier does not squash the rest.
    assert normal_scores([1.0, 2.0, 3.0, -1e9]).tolist() == pytest.approx(
        normal_scores([1.0, 2.0, 3.0, 0.0]).tolist()
    )
