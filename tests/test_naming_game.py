"""The minimal naming game (Baronchelli et al. 2006) against an independent simulation.

``independent_run`` below shares no code with workbench: its own generator
(``random.Random``), its own inventories (dicts of lists) and its own consensus test (every
inventory is the same one word). Monte Carlo sizes and tolerances are stated per test;
every tolerance is at least 4 standard errors, with fixed seeds.
"""

from __future__ import annotations

import math
import random

import networkx as nx
import numpy as np
import pytest

from workbench.errors import ConfigError
from workbench.society import NamingGame, Situation, Society
from workbench.society.coordination import (
    MINIMAL_GAME_REFERENCE,
    coordination_game,
    minimal_game_runs,
    minimal_game_summary,
    minimal_naming_game,
    name_pool,
)
from workbench.studies.conventions import ConventionsConfig, ConventionsStudy


def independent_run(n: int, seed: int) -> tuple[int, int]:
    """(t_conv, N_w^max) of one minimal naming game on a complete graph of ``n``."""
    rnd = random.Random(seed)
    inv: list[list[int]] = [[] for _ in range(n)]
    total, peak, fresh, t = 0, 0, 0, 0
    while True:
        t += 1
        speaker, hearer = rnd.sample(range(n), 2)
        if not inv[speaker]:
            inv[speaker].append(fresh)
            fresh += 1
            total += 1
        word = rnd.choice(inv[speaker])
        if word in inv[hearer]:
            total -= len(inv[speaker]) + len(inv[hearer]) - 2
            inv[speaker], inv[hearer] = [word], [word]
            if total == n and all(x == [word] for x in inv):
                return t, peak
        else:
            inv[hearer].append(word)
            total += 1
            peak = max(peak, total)


def mean_se(x) -> tuple[float, float]:
    x = np.asarray(x, dtype=float)
    return float(x.mean()), float(x.std(ddof=1) / math.sqrt(len(x)))


# N -> runs: about 2 s of each simulation per size
SIZES = {24: 1500, 100: 300, 316: 50}


@pytest.fixture(scope="module")
def both():
    out = {}
    for n, runs in SIZES.items():
        ours = minimal_game_runs((n,), runs, seed=13)
        theirs = np.array([independent_run(n, 10_000 * n + r) for r in range(runs)])
        out[n] = (ours, theirs)
    return out


@pytest.mark.parametrize("n", list(SIZES))
def test_the_project_game_matches_an_independent_simulation(both, n):
    # means over SIZES[n] runs each; tolerance 4 combined standard errors
    ours, theirs = both[n]
    assert ours.converged.all()
    for column, k in (("t_conv", 0), ("peak_words", 1)):
        a, sa = mean_se(ours[column])
        b, sb = mean_se(theirs[:, k])
        assert abs(a - b) <= 4 * math.hypot(sa, sb), (column, a, sa, b, sb)


@pytest.mark.parametrize("n", list(SIZES))
def test_the_recorded_reference_values_hold_for_the_independent_simulation(both, n):
    # MINIMAL_GAME_REFERENCE["measured"] was measured with the project's game (other
    # seeds, more runs at N = 1000); the independent one must agree within 4 SE
    # (its own SE, doubled in variance for the recorded value's)
    _, theirs = both[n]
    t_ref, w_ref = MINIMAL_GAME_REFERENCE["measured"][n]
    scale = n**1.5
    for k, ref in ((0, t_ref), (1, w_ref)):
        m, se = mean_se(theirs[:, k] / scale)
        assert abs(m - ref) <= 4 * math.sqrt(2) * se + 0.005, (k, m, se, ref)


def test_no_prefactor_is_claimed_as_published_and_the_ratios_drift_with_n():
    assert MINIMAL_GAME_REFERENCE["prefactor"] is None
    assert MINIMAL_GAME_REFERENCE["exponent"] == 1.5
    measured = MINIMAL_GAME_REFERENCE["measured"]
    t = [measured[n][0] for n in sorted(measured)]
    assert t == sorted(t, reverse=True)  # finite-size corrections, largest at small N


def test_a_run_is_reproducible_and_its_trace_counts_words():
    a, b = minimal_naming_game(50, 3), minimal_naming_game(50, 3)
    assert a.trace.equals(b.trace) and (a.t_conv, a.peak_words) == (b.t_conv, b.peak_words)
    assert a.converged and a.interactions == a.t_conv
    assert a.trace.words.iloc[-1] == 50 and a.trace.distinct.iloc[-1] == 1
    assert a.trace.words.max() <= a.peak_words and a.peak_distinct <= a.invented
    assert (a.trace.distinct <= a.trace.words).all()
    c = minimal_naming_game(50, 4)
    assert c.t_conv != a.t_conv or c.peak_words != a.peak_words


def test_open_vocabulary_never_reuses_a_word_and_fixed_budget_runs_past_consensus():
    run = minimal_naming_game(1000, 1, max_interactions=20_000, stop=False)
    assert run.interactions == 20_000 and not run.converged
    # words are never drawn from a pool: hundreds invented, never more distinct than that
    assert run.invented > 300 and run.peak_distinct <= run.invented
    done = minimal_naming_game(10, 2, max_interactions=10_000, stop=False)
    assert done.converged and done.interactions == 10_000 and done.trace.words.iloc[-1] == 10


def test_on_a_ring_the_hearer_is_a_neighbour_and_bad_graphs_are_refused():
    ring = nx.cycle_graph(30)
    run = minimal_naming_game(30, 5, graph=ring)
    assert run.converged
    with pytest.raises(ConfigError, match="nodes"):
        minimal_naming_game(31, 5, graph=ring)
    lonely = nx.empty_graph(3)
    with pytest.raises(ConfigError, match="neighbour"):
        minimal_naming_game(3, 5, graph=lonely)


def test_summary_states_standard_errors_and_the_study_prints_the_reference_beside_it():
    runs = minimal_game_runs((24, 48), 30, seed=1)
    s = minimal_game_summary(runs).set_index("members")
    assert (s.converged == 30).all() and (s.t_conv_se > 0).all() and (s.peak_words_se > 0).all()
    assert s.loc[48, "t_conv"] > s.loc[24, "t_conv"]
    study = ConventionsStudy(ConventionsConfig(populations=("rule:naming_game",)))
    table = study.minimal_game(sizes=(24,), runs=20, seed=2)
    assert table.reference.iloc[0].startswith("t_conv ~ N^1.5")
    assert "Baronchelli" in table.source.iloc[0]


def test_the_random_pair_schedule_plays_one_interaction_a_step():
    society = Society(
        [NamingGame()] * 8,
        coordination_game(name_pool(64)),
        Situation(schedule="random_pair", memory=1000),
        seed=3,
    )
    df = society.run(50)
    assert len(df) == 100 and (df.groupby("step").size() == 2).all()
    speakers, hearers = df.iloc[0::2], df.iloc[1::2]
    assert (hearers.partner.to_numpy() == speakers.member.to_numpy()).all()
    assert (speakers.member.to_numpy() != hearers.member.to_numpy()).all()
    roles = [r.role for m in society.members for r in m.memory]
    assert set(roles) == {"speaker", "hearer"}
