"""Simplified ITU-T G.107 E-model: transmission rating R from one-way delay, jitter, random packet loss and
codec, and the estimated MOS (conversational quality) from R.

Simplifications, as commonly used for VoIP monitoring (Cole & Rosenbluth, "Voice over IP performance
monitoring", ACM CCR 2001):
- R0 - Is + A = 93.2, the G.107 default for all other parameters (no echo, quiet room, handset-like terminal).
- Delay impairment Id = 0.024·d + 0.11·(d − 177.3)·H(d − 177.3), a fit of G.107's Idd/Idte for d in ms.
- Jitter is folded into an effective delay: d = one-way latency + 2·jitter + 10 ms (the jitter buffer holds
  about two jitter spans; 10 ms for codec/processing).
- Loss: Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl + Bpl), i.e. G.107 eq. with BurstR = 1 (random loss).
"""

from __future__ import annotations

from dataclasses import dataclass

R_DEFAULT = 93.2


@dataclass(frozen=True)
class Codec:
    """Equipment impairment Ie and packet-loss robustness Bpl (ITU-T G.113 Appendix I where listed)."""

    name: str
    ie: float
    bpl: float


CODECS: dict[str, Codec] = {
    # G.113 App. I: G.711 with the G.711 Appendix I PLC: Ie 0, Bpl 25.1; without PLC (random loss) Bpl 4.3.
    "g711": Codec("g711", 0.0, 25.1),
    "g711_noplc": Codec("g711_noplc", 0.0, 4.3),
    # G.113 App. I: G.729A + VAD, Ie 11, Bpl 19.0.
    "g729": Codec("g729", 11.0, 19.0),
    # Opus has no G.113 narrowband entry. At the desk's 24–32 kbit/s it is at least as good as G.711 in listening
    # tests, and the narrowband E-model cannot credit its wideband gain, so Ie = 0; its PLC is at least as good
    # as G.711's, and we do not credit in-band FEC (it only works when the sender enables it), so Bpl = 25.1:
    # a deliberately conservative "no worse than G.711 + PLC".
    "opus": Codec("opus", 0.0, 25.1),
}


def effective_delay_ms(one_way_ms: float, jitter_ms: float = 0.0) -> float:
    """One-way latency plus the jitter buffer (2 × jitter) plus 10 ms codec/processing delay."""
    return max(0.0, one_way_ms) + 2.0 * max(0.0, jitter_ms) + 10.0


def delay_impairment(delay_ms: float) -> float:
    d = max(0.0, delay_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


def loss_impairment(loss_pct: float, codec: Codec) -> float:
    ppl = min(100.0, max(0.0, loss_pct))
    return codec.ie + (95.0 - codec.ie) * ppl / (ppl + codec.bpl)


def r_factor(one_way_ms: float, jitter_ms: float = 0.0, loss_pct: float = 0.0, codec: str = "g711") -> float:
    """R for a one-way network latency (ms), jitter (ms), random packet loss (%) and codec name. Not clamped:
    R may fall below 0 for terrible links (`mos_from_r` clamps)."""
    c = CODECS[codec]
    d = effective_delay_ms(one_way_ms, jitter_ms)
    return R_DEFAULT - delay_impairment(d) - loss_impairment(loss_pct, c)


def r_from_impairments(delay_ms: float, loss_pct: float = 0.0, codec: str = "g711") -> float:
    """R for an already-effective mouth-to-ear delay (no jitter folding, no processing allowance)."""
    return R_DEFAULT - delay_impairment(delay_ms) - loss_impairment(loss_pct, CODECS[codec])


def mos_from_r(r: float) -> float:
    """G.107 Annex B: MOS_CQE = 1 + 0.035R + R(R − 60)(100 − R)·7·10⁻⁶, 1 for R ≤ 0, 4.5 for R ≥ 100."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    mos = 1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    return min(4.5, max(1.0, mos))


def estimate_mos(
    one_way_ms: float, jitter_ms: float = 0.0, loss_pct: float = 0.0, codec: str = "g711"
) -> float:
    """Estimated MOS (1..4.5) for the given link; the `webrtc` check's value."""
    return mos_from_r(r_factor(one_way_ms, jitter_ms, loss_pct, codec))
