"""Conformance check that every rule policy passes (after scikit-learn's estimator checks).

Use it on your own policies::

    from workbench.society.checks import check_policy
    check_policy(MyPolicy())

References
----------
.. [1] L. Buitinck et al., "API design for machine learning software: experiences from the
   scikit-learn project", ECML PKDD Workshop (2013).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from workbench.llm.types import Decision
from workbench.society.persons import RulePerson, make_person
from workbench.society.task import Observation, Recollection, Round

__all__ = ["check_policy", "observations"]


def observations() -> list[Observation]:
    """A small battery of observations covering the cases a policy must handle."""
    opts = ("A", "B", "C")
    truth = Round("Which?", opts, correct="B")
    planted = Round("Which?", opts, correct="B", planted="C")
    open_ = Round("Pick one.", opts)
    pair = Round("Pick one.", ("A", "B"))
    return [
        Observation(truth),
        Observation(planted),
        Observation(open_),
        Observation(pair, seen=(("Participant 1", "B"),)),
        Observation(truth, seen=(("P1", "A"), ("P2", "A"), ("P3", "C"))),
        Observation(planted, seen=(("P1", "C"), ("P2", "C")), exchange="counts"),
        Observation(open_, seen=(("P1", "A"), ("P2", "C"))),  # a tie
        Observation(truth, memory=(Recollection(1, "A", "P1: A"),)),
    ]


def check_policy(policy: RulePerson) -> None:
    """Assert that ``policy`` honours the rule-person contract.

    The contract: the policy is an immutable, hashable dataclass; its ``model`` spec
    round-trips through :func:`~workbench.society.persons.make_person`; for every
    observation it returns a valid rule :class:`~workbench.llm.types.Decision` over exactly
    the offered options, whose probabilities are non-negative and sum to one, whose choice
    has positive probability; it draws exactly one number from the generator, so the same
    seed gives the same choices; it does not change the observation.

    Parameters
    ----------
    policy : RulePerson
        The policy to check. Policies whose parameters do not fit the battery (e.g. a
        committed option that is not offered) should be built to fit it (``"A"``).

    Raises
    ------
    AssertionError
        Naming the first broken rule.
    """
    name = type(policy).__name__
    assert isinstance(policy, RulePerson), f"{name} is not a RulePerson"
    assert policy.is_rule, f"{name}.is_rule must be True"
    assert dataclasses.is_dataclass(policy), f"{name} must be a dataclass"
    assert type(policy).__dataclass_params__.frozen, f"{name} must be a frozen dataclass"
    hash(policy)
    assert make_person(policy.model) == policy, f"{name}.model does not round-trip"
    for observation in observations():
        before = repr(observation)
        rng, twin = np.random.default_rng(7), np.random.default_rng(7)
        decision = policy.decide(observation, rng)
        assert isinstance(decision, Decision), f"{name}.decide must return a Decision"
        assert decision.valid and decision.method == "rule", f"{name}: invalid decision"
        assert decision.options == observation.options, f"{name}: options changed"
        p = np.asarray(decision.probabilities)
        assert p.shape == (len(observation.options),), f"{name}: one probability per option"
        assert (p >= 0).all() and np.isclose(p.sum(), 1.0), f"{name}: not a distribution"
        assert decision.choice in observation.options, f"{name}: choice not offered"
        assert decision.probability(decision.choice) > 0, f"{name}: chose a 0-probability option"
        twin.random()
        assert rng.random() == twin.random(), f"{name} must draw exactly one number"
        again = policy.decide(observation, np.random.default_rng(7))
        assert again == decision, f"{name} is not reproducible from the seed"
        assert repr(observation) == before, f"{name} changed the observation"
