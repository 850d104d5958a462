"""workbench.config: the one reader of config text, its writer, and the shared fields."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workbench import config
from workbench.commands.run import add_config_arguments
from workbench.errors import ConfigError
from workbench.sweep import parse_grid


@dataclass(frozen=True)
class Demo:
    model: str = config.model("rule:truthful")
    norms: tuple[str, ...] = config.norms(("public",))
    sizes: tuple[int, ...] = field(default=(8, 16), metadata={"help": "sizes"})
    share: float = field(default=0.5, metadata={"help": "a share"})
    cap: int | None = field(default=None, metadata={"help": "optional cap"})
    loud: bool = field(default=False, metadata={"help": "a switch"})
    memory: int = config.memory(2)
    temperature: float = config.temperature(0.7)

    def __post_init__(self) -> None:
        config.normalise(self)


def cli(*argv: str) -> Demo:
    parser = argparse.ArgumentParser(exit_on_error=False)
    add_config_arguments(parser, Demo)
    args = parser.parse_args(argv)
    return Demo(**{f: getattr(args, f) for f in config.fields_of(Demo)})


def test_text_and_values_make_the_same_config():
    from_text = config.make(Demo, {"norms": "public,private", "sizes": "4", "cap": "none"})
    from_values = Demo(norms=("public", "private"), sizes=(4,), cap=None)
    assert from_text == from_values
    assert config.make(Demo, {"share": 1, "memory": 3.0}) == Demo(share=1.0, memory=3)


def test_a_comma_inside_an_entry_survives_every_front_end():
    sentence = "Be honest, always."
    cfg = Demo(norms=(sentence, "public"))
    argv = config.to_argv(cfg)
    assert argv == ["--norms=Be honest\\, always.,public"]
    assert cli(*argv) == cfg  # the printed command gives the same config
    grid = parse_grid(["norms=Be honest\\, always.,public"], Demo)
    assert grid["norms"] == [(sentence,), ("public",)]  # one grid value: a list of one


@given(
    sizes=st.lists(st.integers(0, 10**6), max_size=4).map(tuple),
    share=st.floats(-1e6, 1e6, allow_nan=False),
    cap=st.none() | st.integers(0, 10**9),
    loud=st.booleans(),
    norms=st.lists(
        st.text("abc ,\\.", min_size=2).filter(lambda t: " " in t.strip()), min_size=1, max_size=3
    ).map(tuple),
)
def test_to_argv_round_trips(sizes, share, cap, loud, norms):
    norms = tuple(n.strip() for n in norms)
    try:
        cfg = Demo(sizes=sizes, share=share, cap=cap, loud=loud, norms=norms)
    except ConfigError:
        return  # a sentence of only separators is not a norm
    assert cli(*config.to_argv(cfg)) == cfg


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"sizes": "4,x"}, "--sizes takes a whole number, got 'x'"),
        ({"share": "half"}, "--share takes a number, got 'half'"),
        ({"loud": "maybe"}, "--loud takes true or false, got 'maybe'"),
        ({"memory": 2.5}, "--memory takes a whole number, got 2.5"),
        ({"temperature": -1}, "--temperature must be at least 0"),
        ({"norms": "blorp"}, "unknown norm 'blorp'"),
        ({"model": "rule:wizard"}, "unknown rule 'wizard'"),
        ({"colour": "red"}, "unknown field 'colour' of Demo"),
    ],
)
def test_bad_values_are_one_line_errors(values, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as info:
        config.make(Demo, values)
    assert "\n" not in str(info.value)


def test_none_and_empty_lists():
    spec = config.fields_of(Demo)["sizes"]
    assert config.parse("none", spec) == () and config.parse("", spec) == ()
    assert config.to_text(()) == "none" and config.to_text(None) == "none"
    assert config.parse("none", config.fields_of(Demo)["cap"]) is None


def test_the_shared_fields_declare_their_types():
    specs = config.fields_of(Demo)
    assert specs["norms"].many and specs["norms"].kind is str
    assert not specs["memory"].many and specs["memory"].kind is int
    assert specs["cap"].optional
    assert all(s.help for s in specs.values())


@dataclass(frozen=True)
class Members:
    personas: tuple[str, ...] = config.personas(library=True)
    persona_file: str | None = config.persona_file()
    degree: int = config.degree()

    def __post_init__(self) -> None:
        config.normalise(self)


def test_library_personas_are_resolved_by_their_field(tmp_path):
    assert config.make(Members, personas="none,Answer as a careful judge.").personas == (
        "none",
        "Answer as a careful judge.",
    )
    with pytest.raises(ConfigError, match="unknown persona 'nosuch'"):
        config.make(Members, personas="none,nosuch")
    extra = tmp_path / "personas.json"
    extra.write_text('{"nosuch": "You check every claim twice."}')
    assert config.make(Members, personas="nosuch", persona_file=str(extra)).personas == ("nosuch",)
    assert config.make(Members, degree="6").degree == 6
    assert config.SHARED["degree"] == (int, config.degree)
