"""Tests for benchmarks/nb201_costs.py: analytic NB201 parameters and FLOPs."""

import pytest
from bench_helpers import load_benchmark


@pytest.fixture(scope="module")
def costs():
    return load_benchmark("nb201_costs")


def cell(*ops):
    return f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"


def test_extremes_are_nas_bench_201s(costs):
    # NAS-Bench-201 lists 0.073 M and 1.532 M parameters for these two.
    assert costs.network_costs(cell(*["none"] * 6)) == (73_306, 7_783_050)
    assert costs.network_costs(cell(*["nor_conv_3x3"] * 6)) == (1_531_546, 220_119_690)
    # Parameter-free operations cost nothing; a 1x1 convolution in every
    # cell of the three stages: 5 x (C^2 + 2C) parameters, 5 x C^2 x HW FLOPs.
    assert costs.network_costs(cell(*["avg_pool_3x3"] * 6)) == (73_306, 7_783_050)
    one = costs.network_costs(cell("nor_conv_1x1", *["skip_connect"] * 5))
    assert one[0] - 73_306 == 5 * sum(c * c + 2 * c for c in (16, 32, 64))
    assert one[1] - 7_783_050 == 5 * 3 * 16 * 16 * 32 * 32
    with pytest.raises(ValueError, match="arch_str="):
        costs.network_costs("|conv~0|")
    assert len(set(costs.all_arch_strs())) == 15625


def test_parameters_match_the_keras_model(costs):
    arch_str = cell("nor_conv_3x3", "none", "nor_conv_1x1", "skip_connect",
                    "avg_pool_3x3", "nor_conv_1x1")
    assert costs.keras_parameters(arch_str) == costs.network_costs(arch_str)[0]
