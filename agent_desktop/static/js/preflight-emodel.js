// The simplified ITU-T G.107 E-model of hardware_check/emodel.py, line for line, so the browser's `webrtc` row
// and the CLI's give the same MOS for the same link (e2e/test_preflight_e2e.py compares both on a grid of
// inputs). Change both together.
export const R_DEFAULT = 93.2;

// Equipment impairment Ie and packet-loss robustness Bpl (see emodel.py for the sources).
export const CODECS = {
  g711: { ie: 0.0, bpl: 25.1 },
  g711_noplc: { ie: 0.0, bpl: 4.3 },
  g729: { ie: 11.0, bpl: 19.0 },
  opus: { ie: 0.0, bpl: 25.1 },
};

export function effectiveDelayMs(oneWayMs, jitterMs = 0) {
  return Math.max(0, oneWayMs) + 2 * Math.max(0, jitterMs) + 10;
}

export function delayImpairment(delayMs) {
  const d = Math.max(0, delayMs);
  return 0.024 * d + (d > 177.3 ? 0.11 * (d - 177.3) : 0);
}

export function lossImpairment(lossPct, codec) {
  const ppl = Math.min(100, Math.max(0, lossPct));
  return codec.ie + ((95 - codec.ie) * ppl) / (ppl + codec.bpl);
}

export function rFactor(oneWayMs, jitterMs = 0, lossPct = 0, codec = "g711") {
  const c = CODECS[codec];
  if (!c) throw new Error(`unknown codec ${codec}`);
  return R_DEFAULT - delayImpairment(effectiveDelayMs(oneWayMs, jitterMs)) - lossImpairment(lossPct, c);
}

export function mosFromR(r) {
  if (r <= 0) return 1;
  if (r >= 100) return 4.5;
  const mos = 1 + 0.035 * r + r * (r - 60) * (100 - r) * 7e-6;
  return Math.min(4.5, Math.max(1, mos));
}

export function estimateMos(oneWayMs, jitterMs = 0, lossPct = 0, codec = "g711") {
  return mosFromR(rFactor(oneWayMs, jitterMs, lossPct, codec));
}
