"""Simplified ITU-T G.107 E-model against known points."""

from __future__ import annotations

import pytest

from hardware_check.emodel import (
    CODECS,
    delay_impairment,
    effective_delay_ms,
    estimate_mos,
    loss_impairment,
    mos_from_r,
    r_factor,
    r_from_impairments,
)


def test_default_r_gives_mos_4_41() -> None:
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.005)


@pytest.mark.parametrize(
    ("r", "mos"), [(-10, 1.0), (0, 1.0), (100, 4.5), (120, 4.5), (50, 2.575), (80, 4.024)]
)
def test_mos_edges_and_known_points(r: float, mos: float) -> None:
    assert mos_from_r(r) == pytest.approx(mos, abs=0.001)


def test_mos_is_monotonic_in_r() -> None:
    values = [mos_from_r(r / 2) for r in range(0, 201)]
    assert values == sorted(values)


def test_effective_delay_folds_jitter() -> None:
    assert effective_delay_ms(40, 5) == 60
    assert effective_delay_ms(-3, -1) == 10


def test_delay_impairment_knee_at_177_3_ms() -> None:
    assert delay_impairment(100) == pytest.approx(2.4)
    assert delay_impairment(177.3) == pytest.approx(0.024 * 177.3)
    assert delay_impairment(200) == pytest.approx(0.024 * 200 + 0.11 * 22.7)


def test_loss_example_g711_plc_5_percent() -> None:
    # Ie,eff = 0 + 95 * 5 / (5 + 25.1) = 15.78; R = 93.2 - 15.78 = 77.42 → MOS ≈ 3.92.
    assert loss_impairment(5, CODECS["g711"]) == pytest.approx(15.78, abs=0.01)
    r = r_from_impairments(0, 5, "g711")
    assert r == pytest.approx(77.42, abs=0.01)
    assert mos_from_r(r) == pytest.approx(3.92, abs=0.01)
    # Without PLC the same loss hurts far more.
    assert r_from_impairments(0, 5, "g711_noplc") == pytest.approx(93.2 - 95 * 5 / 9.3)


def test_typical_home_links() -> None:
    # Good wired link: 20 ms one way, 2 ms jitter, no loss → clearly "satisfied" (≥ 4.0).
    assert estimate_mos(20, 2, 0, "opus") >= 4.3
    # Middling link at the rtt/jitter/loss warn bounds (100 ms one way, 40 ms jitter, 3 %) → still ≥ 3.6 (warn).
    assert 3.6 <= estimate_mos(100, 40, 3, "g711") < 4.0
    # Poor Wi-Fi: 150 ms one way, 50 ms jitter, 5 % loss → below the warn bound.
    assert estimate_mos(150, 50, 5, "g711") < 3.6
    assert r_factor(0, 0, 0) == pytest.approx(93.2 - 0.24)


def test_unknown_codec_raises() -> None:
    with pytest.raises(KeyError):
        r_factor(10, codec="speex")
