"""hardpos.attacks.methods: method names expand to directions."""

from __future__ import annotations

from hardpos.attacks import parse_methods


def test_method_names_expand_to_directions():
    names = [d.name for d in parse_methods("fgs, HC-D-3,hc-d-k2,hc-s-k9")]
    assert names == ["FGS", "HC-D-1", "HC-D-2", "HC-D-3", "HC-S-9"]
