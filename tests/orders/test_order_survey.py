"""An order's answered call handed to the satisfaction survey (DESIGN.md §10, §11): `call.survey` frees the agent
at once (the session is no longer theirs), yet the agent who surveyed it still gets `order.ended` when the citizen's
leg ends, so the page's order panel does not wait for ever. Real SIP citizen, aiortc agent, eID login."""

from __future__ import annotations

import pytest

from tests.orders.test_order_offers import ANSWERS, import_list, order_desk, outbound
from tests.web.test_routing import AgentClient
from tests.web.test_survey import write_questions

pytestmark = pytest.mark.timeout(90)

SURVEY = """
[prompts]
dir = "prompts"

[survey]
questions = ["q1.wav", "q2.wav", "q3.wav", "q4.wav"]
thanks = "thanks.wav"
timeout_s = 1.5
"""


async def test_an_order_call_sent_to_the_survey_still_tells_its_agent_order_ended(tmp_path, web_pki, cards):
    write_questions(tmp_path)
    async with order_desk(tmp_path, web_pki, cards, extra=SURVEY) as (desk, citizens, sup, stack):
        await import_list(desk, sup, "reserve", f"number,name\n{ANSWERS},An\n", kind="reserve")
        agent = await AgentClient(desk, "agent").start(stack)
        await outbound(agent)
        offer = await agent.next("order.offered")
        await agent.ws.send_json({"type": "order.call", "order_id": offer["order_id"]})
        dialing = await agent.call_state("dialing")
        await agent.call_state("connected")
        await agent.ws.send_json({"type": "call.survey", "call_id": dialing["call_id"]})
        assert (await agent.call_state("ended"))["cause"] == "survey"
        await citizens.calls[-1][1].hangup()  # the citizen leaves during the first question
        ended = await agent.next("order.ended", within=5)
        assert (ended["order_id"], ended["call_id"], ended["outcome"]) == (
            offer["order_id"],
            dialing["call_id"],
            None,
        )
