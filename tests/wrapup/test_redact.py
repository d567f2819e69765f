"""National register numbers are masked in free text; other numbers stay readable."""

from __future__ import annotations

from datetime import date

from agent_desktop.eid.nrn import make_test_nrn
from agent_desktop.web.redact import MASK, mask_nrn

NRN = make_test_nrn(date(1985, 3, 2), 17)
NRN_2000 = make_test_nrn(date(2003, 7, 9), 122)


def test_plain_and_formatted_numbers_are_masked() -> None:
    formatted = f"{NRN[:2]}.{NRN[2:4]}.{NRN[4:6]}-{NRN[6:9]}.{NRN[9:]}"
    for text in (NRN, formatted, f"{NRN[:6]} {NRN[6:9]} {NRN[9:]}", NRN_2000):
        masked, hit = mask_nrn(f"mijn nummer is {text}, dank u")
        assert hit and masked == f"mijn nummer is {MASK}, dank u"


def test_invalid_check_digits_phone_numbers_and_longer_runs_are_kept() -> None:
    wrong = NRN[:9] + f"{(int(NRN[9:]) + 1) % 100:02d}"
    for text in (wrong, "0471 23 45 67", "+32 2 555 00 00", "1" + NRN, NRN + "9"):
        assert mask_nrn(text) == (text, False)
