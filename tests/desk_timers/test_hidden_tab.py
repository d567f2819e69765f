"""The desk in a background tab (agents read a citizen's mail meanwhile), in Chromium: Chrome throttles a hidden
page's timers (to once a second, and chained ones to once a minute after five minutes hidden), so what must keep
time there may not hang on setTimeout/setInterval. The worst case is emulated: the page reports itself hidden and
its timers never fire. The ring tone must keep its cadence (1 s of 425 Hz, 3 s quiet) all the same; it is
measured on the ringer's own output through an AnalyserNode. The module is served from disk through Playwright's
router, as in tests/queue_panel; nothing of the desk runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.helpers.static_page import static_page


@pytest.fixture
def page(chromium) -> Iterator[Page]:
    with static_page(chromium()) as page:
        yield page


HIDE_AND_STALL_TIMERS = """
() => {
  window.realSetTimeout = window.setTimeout.bind(window);
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
  window.setTimeout = () => 0;
  window.setInterval = () => 0;
}
"""


@pytest.mark.timeout(60)
def test_the_ring_keeps_its_cadence_when_the_hidden_tab_gets_no_timer(page: Page) -> None:
    page.evaluate(HIDE_AND_STALL_TIMERS)
    bursts = page.evaluate(
        """async () => {
          // Whatever the ringer sends to the speakers also goes to an analyser.
          const taps = new Map();
          const connect = AudioNode.prototype.connect;
          AudioNode.prototype.connect = function (target, ...rest) {
            if (target instanceof AudioDestinationNode) {
              if (!taps.has(target.context)) {
                const tap = target.context.createAnalyser();
                tap.fftSize = 2048;
                taps.set(target.context, tap);
              }
              connect.call(this, taps.get(target.context));
            }
            return connect.call(this, target, ...rest);
          };
          const { Ringer } = await import("/static/js/ringer.js");
          const ringer = new Ringer(document.createElement("div"));
          await ringer.ctx.resume();
          ringer.start();
          const analyser = taps.get(ringer.ctx);
          const samples = new Float32Array(analyser.fftSize);
          const sleep = (ms) => new Promise((resolve) => window.realSetTimeout(resolve, ms));
          const started = ringer.ctx.currentTime;
          const on = [];
          while (ringer.ctx.currentTime - started < 9.5) {
            analyser.getFloatTimeDomainData(samples);
            const rms = Math.sqrt(samples.reduce((sum, s) => sum + s * s, 0) / samples.length);
            on.push([ringer.ctx.currentTime - started, rms > 0.05]);
            await sleep(50);
          }
          ringer.stop();
          const bursts = [];
          for (const [t, loud] of on) {
            const last = bursts[bursts.length - 1];
            if (loud && (!last || t - last[1] > 0.3)) bursts.push([t, t]);
            else if (loud) last[1] = t;
          }
          return bursts;
        }"""
    )
    starts = [round(b[0], 1) for b in bursts]
    assert len(bursts) == 3, f"bursts at {starts} s (expected 0, 4 and 8)"
    for (first, last), expected in zip(bursts, (0.0, 4.0, 8.0), strict=True):
        assert abs(first - expected) < 0.4, bursts
        assert 0.6 < last - first < 1.2, bursts
