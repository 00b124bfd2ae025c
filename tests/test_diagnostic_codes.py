"""`chatflow.diagnostic_codes`: the one registry the front ends and the rules
register their codes into, which the rule catalog (SARIF, docs) reads."""

from __future__ import annotations

import pytest

from chatflow.diagnostic_codes import CodeInfo, register, registered
from chatflow.diagnostic_format import known_rules
from chatflow.diagnostics import Severity


def test_every_phase_has_registered_its_codes() -> None:
    codes = {c.code: c for c in known_rules()}
    assert codes["E0101"].name == "unexpected-token"      # .flow syntax
    assert codes["E0110"].name == "yaml-syntax"           # YAML front end
    assert codes["E0201"].severity == "error"             # a checker rule
    assert codes["W0101"].severity == "warning"
    assert [c.code for c in registered()] == sorted(codes)


def test_registering_a_code_again_the_same_way_is_harmless() -> None:
    known = next(c for c in registered() if c.code == "W0101")
    assert register(known.code, known.name, known.description, Severity.WARNING) == known


def test_a_code_claimed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="E0101 registered twice"):
        register("E0101", "something-else", "another meaning")
    assert CodeInfo("E0101", "unexpected-token", "x").severity == "error"
