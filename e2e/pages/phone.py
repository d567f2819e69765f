"""The phone panel: audio status, the incoming call, answer/hold/DTMF/hang-up, dialling out."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect


class PhonePanel:
    def __init__(self, page: Page) -> None:
        self.page = page

    def expect_audio_connected(self) -> None:
        expect(self.page.get_by_test_id("rtc-status")).to_have_attribute("data-status", "connected")

    @property
    def incoming(self) -> Locator:
        return self.page.get_by_test_id("call-incoming")

    @property
    def caller(self) -> Locator:
        return self.page.get_by_test_id("call-from")

    @property
    def status(self) -> Locator:
        """`data-state`: ringing, connected, held, ended."""
        return self.page.get_by_test_id("call-status")

    @property
    def notice(self) -> Locator:
        """Why an offer stopped ringing here (`data-key`: its i18n key), shown for a few seconds."""
        return self.page.get_by_test_id("offer-notice")

    def expect_notice(self, key: str) -> None:
        expect(self.notice).to_be_visible()
        expect(self.notice).to_have_attribute("data-key", key)

    @property
    def order_offer(self) -> Locator:
        """The call order offered to the agent (`data-order-id`)."""
        return self.page.get_by_test_id("order-offer")

    @property
    def order_idle(self) -> Locator:
        """Why no order is offered to an agent waiting for one (`data-paused` "1": the trunk is down)."""
        return self.page.get_by_test_id("order-idle")

    @property
    def caller_orders(self) -> Locator:
        """Why we called a citizen who rings back: the orders of `call.offered`, in the incoming call, then on the
        answered call (`call-order` items with `call-order-name|why|last|note`)."""
        return self.page.get_by_test_id("call-orders")

    def caller_order(self, name: str) -> Locator:
        return self.caller_orders.get_by_test_id("call-order").filter(
            has=self.page.get_by_test_id("call-order-name").get_by_text(name, exact=True)
        )

    def cut_text_in(self, testid: str) -> list[dict]:
        """Elements under `testid` whose text runs past their own box or past the page's right edge (cut off)."""
        return self.page.evaluate(CUT_TEXT, testid)

    def expect_call_state(self, state: str) -> None:
        expect(self.status).to_have_attribute("data-state", state)

    def answer(self) -> None:
        expect(self.incoming).to_be_visible()
        self.page.get_by_test_id("call-answer").click()
        self.expect_call_state("connected")

    def reject(self) -> None:
        self.page.get_by_test_id("call-reject").click()

    def hold(self) -> None:
        """Toggle hold (the same button resumes)."""
        self.page.get_by_test_id("call-hold").click()

    def press(self, digit: str) -> None:
        self.page.get_by_test_id("dtmf-pad").get_by_role("button", name=digit, exact=True).click()

    def hang_up(self) -> None:
        self.page.get_by_test_id("call-hangup").click()
        self.expect_call_state("ended")

    def dial(self, number: str) -> None:
        self.page.get_by_test_id("dial-input").fill(number)
        self.page.get_by_test_id("dial-call").click()

    def hears_tone(self, freq: float) -> dict:
        """Listen to the call's audio in the page (WebAudio FFT): levels in dB at `freq`, elsewhere and median."""
        return self.page.evaluate(TONE_IN_PAGE, freq)

    def expect_hears(self, freq: float, margin_db: float = 20) -> None:
        """The call's audio carries `freq`, `margin_db` above a frequency next to it and above the median."""
        level = self.hears_tone(freq)
        assert level["tone"] - level["elsewhere"] > margin_db, level
        assert level["tone"] - level["median"] > margin_db, level


TONE_IN_PAGE = """async (freq) => {
  const el = document.getElementById("remote-audio");
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 8192;
  ctx.createMediaStreamSource(el.srcObject).connect(analyser);
  await new Promise((r) => setTimeout(r, 1500));
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  const hz = ctx.sampleRate / analyser.fftSize;
  const at = (f) => Math.max(...[-1, 0, 1].map((d) => bins[Math.round(f / hz) + d]));
  const sorted = [...bins].sort((a, b) => a - b);
  await ctx.close();
  return { tone: at(freq), elsewhere: at(freq * 1.37), median: sorted[sorted.length >> 1] };
}"""


CUT_TEXT = """(testid) => {
  const root = document.querySelector(`[data-testid="${testid}"]`);
  if (!root) return [{ missing: testid }];
  const cut = [];
  for (const el of [root, ...root.querySelectorAll("*")]) {
    if (!el.getClientRects().length) continue;
    const box = el.getBoundingClientRect();
    const clipped = getComputedStyle(el).textOverflow === "ellipsis";
    if (el.scrollWidth > el.clientWidth + 1 || box.right > document.documentElement.clientWidth || clipped) {
      cut.push({ testid: el.dataset.testid || el.className, text: el.textContent.slice(0, 40),
                 scroll: el.scrollWidth, width: el.clientWidth, right: Math.round(box.right) });
    }
  }
  return cut;
}"""
