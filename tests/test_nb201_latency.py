"""Tests for benchmarks/nb201_latency.py: the lookup-table latency of NB201 cells."""

import pytest
from bench_helpers import load_benchmark


@pytest.fixture(scope="module")
def latency():
    return load_benchmark("nb201_latency")


def cell(*ops):
    return f"|{ops[0]}~0|+|{ops[1]}~0|{ops[2]}~1|+|{ops[3]}~0|{ops[4]}~1|{ops[5]}~2|"


def test_live_edges_leave_out_what_the_graph_prunes(latency):
    conv = "nor_conv_3x3"
    # Every edge computed.
    assert latency.live_edges([conv] * 6) == [True] * 6
    # Node 1 feeds nothing (edges 2<-1 and 3<-1 are none): edge 1<-0 is dead.
    assert latency.live_edges([conv, conv, "none", conv, "none", conv]) == [
        False, True, False, True, False, True]
    # Node 2 gets nothing from the input: its edge to node 3 is dead.
    assert latency.live_edges(["none", "none", conv, conv, "none", conv]) == [
        False, False, False, True, False, False]


def test_estimate_adds_live_edges_per_stage_times_the_cells(latency):
    table = {(stage, op): 0.0 for stage in range(3)
             for op in latency.nb201.OPERATIONS}
    table.update({(0, "nor_conv_3x3"): 1.0, (1, "nor_conv_3x3"): 2.0,
                  (2, "nor_conv_3x3"): 4.0, (2, "avg_pool_3x3"): 0.5})
    one = cell("none", "none", "none", "nor_conv_3x3", "none", "none")
    assert latency.estimate_ms(one, 10.0, table, 3.0) == 10.0 + 5 * 7.0
    # The pooling edge into node 1 is dead: node 1 feeds nothing.
    dead = cell("avg_pool_3x3", "none", "none", "nor_conv_3x3", "none", "none")
    assert latency.estimate_ms(dead, 10.0, table, 3.0) == 10.0 + 5 * 7.0
    # No path from input to output: the disconnected network's latency.
    cut = cell("none", "none", "none", "none", "nor_conv_3x3", "avg_pool_3x3")
    assert latency.estimate_ms(cut, 10.0, table, 3.0) == 3.0
