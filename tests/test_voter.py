"""The voter model (``rule:voter``) against its exact results on a complete graph.

The reference values are computed here, sharing no code with workbench: the number ``k``
of members holding opinion A under asynchronous updates (one uniformly random member per
update copies a uniformly random *other* member) is a birth-death chain,
``k -> k +- 1`` each with probability ``k (N - k) / (N (N - 1))`` per update, absorbed at
0 and N. Opinion A wins with probability ``k / N``; the mean number of updates to
consensus solves a tridiagonal linear system, cross-checked against its closed form.

Under synchronous rounds (every member copies at once, from the previous round) ``k`` is
a Wright-Fisher-like chain instead: ``k' = Bin(k, (k-1)/(N-1)) + Bin(N-k, k/(N-1))``; its
mean absorption time (in rounds) is solved from its transition matrix here too.

Monte Carlo sizes and tolerances: asynchronous, 500 runs for each of two starts (N = 20,
initial share 0.25 and 0.5); synchronous, 250 runs from share 0.5; fixed seeds; every
comparison allows 4 standard errors (a chance failure about 1 in 16 000 per comparison,
so far below 1 in 20 for the file). The larger Monte Carlo is benchmarks/b9_voter.py.
"""

import networkx as nx
import numpy as np
import pytest
from support.voter import (
    closed_form_consensus_time,
    exact_consensus_time,
    exact_synchronous_consensus_time,
)

from workbench.errors import ConfigError
from workbench.society import Situation, Topology
from workbench.society.checks import check_policy
from workbench.society.opinion import NO_TOPIC, OpinionSociety, OpinionTask, Voter
from workbench.society.persons import RULES, make_person, rule_examples
from workbench.society.task import Observation, Round
from workbench.studies.polarization import PolarizationConfig, PolarizationStudy

N = 20
RUNS = 500
SHARES = (0.25, 0.5)
TOLERANCE_SE = 4.0
# a member at 0.1 answers label "1" (opinion A), at 0.9 label "5" (opinion B)
A, B = 0.1, 0.9


# -- the independent reference -------------------------------------------------------------


def test_the_chain_solver_agrees_with_the_closed_form():
    times = exact_consensus_time(N)
    assert times[0] == times[N] == 0.0
    for k in range(1, N):
        assert times[k] == pytest.approx(closed_form_consensus_time(N, k), rel=1e-10)
    # e.g. from 5 of 20 and from 10 of 20
    assert times[5] == pytest.approx(204.529, abs=1e-3)
    assert times[10] == pytest.approx(254.133, abs=1e-3)
    assert exact_synchronous_consensus_time(N)[10] == pytest.approx(26.301, abs=1e-3)


# -- the rule ---------------------------------------------------------------------------------


def test_the_voter_is_a_registered_conforming_rule():
    assert "voter" in RULES and "rule:voter" in rule_examples()
    assert make_person("rule:voter") == Voter()
    check_policy(Voter())
    with pytest.raises(ConfigError):
        make_person("rule:voter:0.5")


def test_the_voter_copies_a_seen_label_with_the_share_of_neighbours_holding_it():
    round_ = Round("Agree?", ("1", "2", "3", "4", "5"))
    seen = (("P1", "2"), ("P2", "5"), ("P3", "5"), ("P4", "5"))
    observation = Observation(round_, seen, answer="1")
    assert Voter().probabilities(observation) == (0.0, 0.25, 0.0, 0.0, 0.75)
    rng = np.random.default_rng(0)
    choices = [Voter().decide(observation, rng).choice for _ in range(4000)]
    assert set(choices) == {"2", "5"}
    # binomial(4000, 0.25): SE 0.0068; 4 SE
    assert abs(choices.count("2") / 4000 - 0.25) < TOLERANCE_SE * np.sqrt(0.25 * 0.75 / 4000)
    alone = Observation(round_, (), answer="4")
    assert Voter().probabilities(alone) == (0.0, 0.0, 0.0, 1.0, 0.0)
    assert Voter().decide(alone, rng).choice == "4"


# -- exact results on a complete graph --------------------------------------------------------


def complete_society(k: int, seed: int, per_step: int | None = 1) -> OpinionSociety:
    return OpinionSociety(
        [Voter()] * N,
        OpinionTask.about(NO_TOPIC, 1),
        Situation(topology="complete"),
        initial=[A] * k + [B] * (N - k),
        seed=seed,
        updates="asynchronous",
        per_step=per_step,
    )


def consensus(society: OpinionSociety) -> bool:
    return len({m.answer for m in society.members}) == 1


@pytest.fixture(scope="module")
def complete_runs() -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """For each initial share: (A won?, updates to consensus) of RUNS runs."""
    out = {}
    for share in SHARES:
        k = round(share * N)
        won, times = [], []
        for run in range(RUNS):
            society = complete_society(k, seed=10_000 * k + run)
            society.run(100_000, until=consensus)  # one update a step
            assert consensus(society)
            won.append(society.members[0].answer == "1")
            times.append(society.steps)
        out[share] = (np.array(won), np.array(times, dtype=float))
    return out


@pytest.mark.parametrize("share", SHARES)
def test_an_opinion_wins_with_probability_equal_to_its_initial_share(share, complete_runs):
    won, _ = complete_runs[share]
    se = np.sqrt(share * (1 - share) / RUNS)  # 0.019 at 0.25, 0.022 at 0.5
    assert abs(won.mean() - share) < TOLERANCE_SE * se, (won.mean(), share, se)


@pytest.mark.parametrize("share", SHARES)
def test_the_mean_consensus_time_is_the_chains_absorption_time(share, complete_runs):
    _, times = complete_runs[share]
    exact = exact_consensus_time(N)[round(share * N)]
    se = times.std(ddof=1) / np.sqrt(RUNS)  # about 8.5 updates (sd about 190)
    assert abs(times.mean() - exact) < TOLERANCE_SE * se, (times.mean(), exact, se)


def test_synchronous_rounds_follow_the_wright_fisher_like_chain():
    k, runs = N // 2, 250
    won, rounds = [], []
    for run in range(runs):
        society = OpinionSociety(
            [Voter()] * N,
            OpinionTask.about(NO_TOPIC, 1),
            Situation(topology="complete", schedule="synchronous"),
            initial=[A] * k + [B] * (N - k),
            seed=70_000 + run,
        )
        society.run(10_000, until=consensus)
        won.append(society.members[0].answer == "1")
        rounds.append(society.steps)
    won, rounds = np.array(won), np.array(rounds, dtype=float)
    assert abs(won.mean() - 0.5) < TOLERANCE_SE * np.sqrt(0.25 / runs)
    exact = exact_synchronous_consensus_time(N)[k]  # 26.3 rounds
    se = rounds.std(ddof=1) / np.sqrt(runs)  # about 1.25 (sd about 20)
    assert abs(rounds.mean() - exact) < TOLERANCE_SE * se, (rounds.mean(), exact, se)


def test_a_step_is_one_sweep_of_n_random_single_updates():
    society = complete_society(10, seed=1, per_step=None)
    table = society.run(5)
    updates = table[table.step > 0]
    assert updates.groupby("step").size().tolist() == [N] * 5
    # members are drawn with replacement: some answer twice in a sweep, some not at all
    counts = updates.groupby(["step", "member"]).size()
    assert counts.max() > 1 and counts.groupby("step").size().min() < N


# -- other topologies --------------------------------------------------------------------------


def replay_checking_neighbours(society: OpinionSociety) -> tuple[int, int, int]:
    """Replay the table's updates in order; each must copy a label a neighbour held.

    Returns the updates, those whose two neighbours disagreed, and how many of those
    copied the lower-numbered neighbour.
    """
    table = society.decisions
    graph = society.network.G
    node_of = dict(zip(table.member, table.node, strict=False))
    member_at = {node: member for member, node in node_of.items()}
    start = table[table.step == 0]
    state = dict(zip(start.member, start.choice, strict=True))
    updates = disagreed = lower = 0
    for member, choice in table.loc[table.step > 0, ["member", "choice"]].itertuples(index=False):
        neighbours = sorted(member_at[v] for v in graph[node_of[member]])
        held = [state[n] for n in neighbours]
        assert choice in held, f"member {member} copied {choice}, its neighbours held {held}"
        if len(set(held)) == 2:
            disagreed += 1
            lower += choice == held[0]
        state[member] = choice
        updates += 1
    return updates, disagreed, lower


def test_on_a_ring_the_voter_copies_only_its_neighbours_uniformly():
    # a ring of 10 (each member sees 2), labels 1..5 twice round: a copy from a
    # non-neighbour would mostly bring a label neither neighbour holds
    n = 10
    total = disagreed = lower = 0
    for seed in range(40):
        society = OpinionSociety(
            [Voter()] * n,
            OpinionTask.about(NO_TOPIC, 1),
            Situation(topology=Topology("ring", k=2)),
            initial=[(i % 5 + 0.5) / 5 for i in range(n)],
            seed=seed,
            updates="asynchronous",
        )
        assert all(d == 2 for _, d in society.network.G.degree)
        society.run(3)  # 3 sweeps of 10 updates
        u, d, low = replay_checking_neighbours(society)
        total, disagreed, lower = total + u, disagreed + d, lower + low
    assert total == 40 * 3 * n
    # a uniformly random neighbour: each of two disagreeing ones half the time (4 SE)
    assert disagreed > 300
    assert abs(lower / disagreed - 0.5) < TOLERANCE_SE * np.sqrt(0.25 / disagreed)


@pytest.mark.parametrize("kind", ["small_world", "barabasi_albert"])
def test_on_a_connected_sparse_network_the_voter_reaches_consensus(kind):
    n = 16
    topology = (
        Topology("watts_strogatz", k=4, p=0.2)
        if kind == "small_world"
        else Topology("barabasi_albert", m=2)
    )
    reached = 0
    for seed in range(5):
        society = OpinionSociety(
            [Voter()] * n,
            OpinionTask.about(NO_TOPIC, 1),
            Situation(topology=topology),
            initial=[(i % 5 + 0.5) / 5 for i in range(n)],  # all five labels
            seed=seed,
            updates="asynchronous",
        )
        if not nx.is_connected(society.network.G):
            continue
        # the mean time is of order N sweeps; 2000 sweeps leave no chance of a miss
        society.run(2000, until=consensus)
        assert consensus(society), f"{kind}, seed {seed}: no consensus in 2000 sweeps"
        replay_checking_neighbours(society)
        reached += 1
    assert reached >= 3


def test_bad_update_orders_are_one_line_config_errors():
    for kwargs in (
        {"updates": "random"},
        {"per_step": 3},
        {"updates": "asynchronous", "per_step": 0},
    ):
        with pytest.raises(ConfigError) as info:
            OpinionSociety(
                [Voter()] * 4,
                OpinionTask.about(NO_TOPIC, 1),
                initial=[0.1, 0.3, 0.5, 0.7],
                seed=0,
                **kwargs,
            )
        assert "\n" not in str(info.value)


# -- in the polarization study ------------------------------------------------------------------


def test_the_polarization_study_runs_voters_asynchronously_with_their_reference():
    config = PolarizationConfig(
        populations=("rule:voter",), members=12, rounds=4, runs=3, topologies=("complete",)
    )
    study = PolarizationStudy(config, seed=5)
    result = study.run()
    rows = result.decisions[result.decisions.step > 0]
    # auto: asynchronous updates, a round being one sweep of 12 single updates
    assert rows.groupby(["replicate", "step"]).size().eq(12).all()
    assert rows.groupby(["replicate", "step"]).member.nunique().lt(12).any()
    row = result.summary.iloc[0]
    assert row.published_mean == row.mean_start
    assert "initial share" in row.published_source
    assert "voter model" in set(study.reference().model)
    synchronous = PolarizationStudy(
        PolarizationConfig(
            populations=("rule:voter",),
            members=12,
            rounds=2,
            runs=1,
            topologies=("ring",),
            schedule="synchronous",
        ),
        seed=5,
    ).run()
    rows = synchronous.decisions[synchronous.decisions.step > 0]
    assert rows.groupby("step").member.nunique().eq(12).all()
