"""The Leviathan et al. formulas against values worked out by hand, and the alpha estimator."""

import math

import pandas as pd
import pytest

from specdec_lite.results import NodeRecord
from specdec_lite.theory import (
    alpha_from_nodes,
    best_gamma,
    expected_speedup,
    expected_tokens_per_call,
    speedup_possible,
    nodes_tested,
)


def test_tokens_per_call_by_hand():
    # alpha = 0.5, gamma = 2: (1 - 0.5^3) / (1 - 0.5) = 0.875 / 0.5 = 1.75 (= 1 + 0.5 + 0.25)
    assert expected_tokens_per_call(0.5, 2) == pytest.approx(1.75)
    # alpha = 0.8, gamma = 4: (1 - 0.8^5) / 0.2 = (1 - 0.32768) / 0.2 = 3.3616
    assert expected_tokens_per_call(0.8, 4) == pytest.approx(3.3616)
    # alpha = 0: every draft rejected, the target's own token only
    assert expected_tokens_per_call(0.0, 5) == 1.0


def test_alpha_one_limit():
    # every draft accepted: gamma + 1 tokens a call, and the formula approaches it continuously
    assert expected_tokens_per_call(1.0, 4) == 5.0
    assert expected_tokens_per_call(1 - 1e-9, 4) == pytest.approx(5.0, rel=1e-6)
    # speed-up at alpha = 1, gamma = 4, c = 0.25: 5 / (4 * 0.25 + 1) = 2.5
    assert expected_speedup(1.0, 4, 0.25) == pytest.approx(2.5)


def test_speedup_by_hand():
    # alpha = 0.8, gamma = 4, c = 0.05: 3.3616 / (4 * 0.05 + 1) = 3.3616 / 1.2 = 2.80133...
    assert expected_speedup(0.8, 4, 0.05) == pytest.approx(3.3616 / 1.2)
    # alpha = 0.5, gamma = 2, c = 0.5: 1.75 / 2 = 0.875 (slower than the target alone)
    assert expected_speedup(0.5, 2, 0.5) == pytest.approx(0.875)


def test_speedup_with_verification_priced():
    # alpha = 0.5, gamma = 4, c = 0.05, a 5-token pass costing 1.6 steps: 1.9375 / (0.2 + 1.6) = 1.0764
    assert expected_speedup(0.5, 4, 0.05, verify=1.6) == pytest.approx(1.9375 / 1.8)
    assert expected_speedup(0.5, 4, 0.05, verify=1.0) == expected_speedup(0.5, 4, 0.05)
    with pytest.raises(ValueError, match="verify"):
        expected_speedup(0.5, 4, 0.05, verify=0.0)


def test_best_gamma():
    # alpha = 0.8, c = 0.05. speed-up(g) = (1 - 0.8^(g+1)) / (0.2 (0.05 g + 1)):
    # g=5: (1 - 0.262144) / 0.25 = 2.9514; g=6: (1 - 0.2097152) / 0.26 = 3.0396;
    # g=7: (1 - 0.16777216) / 0.27 = 3.0823; g=8: (1 - 0.134217728) / 0.28 = 3.0921;
    # g=9: (1 - 0.1073741824) / 0.29 = 3.0780. Best: g = 8.
    gamma, gain = best_gamma(0.8, 0.05)
    assert gamma == 8
    assert gain == pytest.approx((1 - 0.8**9) / 0.28)
    # No speed-up possible when alpha <= c; the best gamma is then the smallest.
    assert not speedup_possible(0.3, 0.4) and speedup_possible(0.8, 0.05)
    assert best_gamma(0.3, 0.4)[0] == 1 and best_gamma(0.3, 0.4)[1] < 1


def test_bad_inputs():
    with pytest.raises(ValueError, match="alpha"):
        expected_tokens_per_call(1.5, 2)
    with pytest.raises(ValueError, match="c must be"):
        expected_speedup(0.5, 2, -0.1)


def _chain(step, n_drafted, n_accepted):
    return [NodeRecord(step, i + 1, 0, 0.5, 1.0, 0.5, 1.0, accepted=i < n_accepted, parent=i - 1,
                       on_path=i < n_accepted) for i in range(n_drafted)]


def test_alpha_from_chain_records():
    # step 0: 4 drafted, 2 accepted -> tested nodes 1, 2, 3 (node 4's parent was rejected): 2 of 3
    # step 1: 4 drafted, 4 accepted -> 4 tested, 4 accepted
    # step 2: 4 drafted, 0 accepted -> 1 tested, 0 accepted
    # alpha_hat = (2 + 4 + 0) / (3 + 4 + 1) = 6 / 8 = 0.75
    nodes = _chain(0, 4, 2) + _chain(1, 4, 4) + _chain(2, 4, 0)
    assert list(nodes_tested(nodes)) == [True, True, True, False] + [True] * 4 + [True, False, False, False]
    assert alpha_from_nodes(nodes) == pytest.approx(0.75)
    assert math.isnan(alpha_from_nodes(pd.DataFrame(columns=list(NodeRecord.__dataclass_fields__))))


def test_alpha_from_tree_records_counts_first_ranked_tested_nodes():
    # One tree step, depth 2, branching 2. Root children: node 0 (rank 0, rejected), node 1 (rank 1,
    # accepted). Children of 0: nodes 2, 3 (untested). Children of 1: node 4 (rank 0, accepted), node 5
    # (rank 1, rejected). Tested rank-0 nodes: 0 (rejected) and 4 (accepted) -> alpha = 1/2.
    def node(i, depth, parent, rank, accepted):
        return NodeRecord(0, depth, i, 0.5, 1.0, 0.5, 1.0, accepted=accepted, parent=parent, rank=rank,
                          on_path=accepted)

    nodes = [node(0, 1, -1, 0, False), node(1, 1, -1, 1, True), node(2, 2, 0, 0, False),
             node(3, 2, 0, 1, False), node(4, 2, 1, 0, True), node(5, 2, 1, 1, False)]
    assert list(nodes_tested(nodes)) == [True, True, False, False, True, True]
    assert alpha_from_nodes(nodes) == pytest.approx(0.5)


def test_call_cost_separates_the_fixed_part_from_the_layers():
    from specdec_lite.theory import CallCost

    cost = CallCost.fit(0.0049, 4, 0.0234, 30)   # a 4-layer and a 30-layer call on one machine
    assert cost.seconds(4) == pytest.approx(0.0049) and cost.seconds(30) == pytest.approx(0.0234)
    assert cost.per_layer == pytest.approx((0.0234 - 0.0049) / 26)
    assert cost.per_call > 0.002                  # a one-layer call keeps the fixed part ...
    assert cost.seconds(1) > 0.0049 / 4 * 1.5     # ... so it costs well over a quarter of the 4-layer call
    with pytest.raises(ValueError, match="same number of layers"):
        CallCost.fit(0.01, 4, 0.02, 4)
