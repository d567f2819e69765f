"""A queue's `label` (CONTRACT.md "Queue labels"): the centre names its own queues for people, per page language,
in `[[queues]]`; the label reaches the pages (`GET /api/queues`, the desk's `hello`, the wall's queues) and a
mistake stops start-up naming the key."""

from __future__ import annotations

import pytest

from agent_desktop.config import ConfigError, parse_config

QUEUES = """
[[queues]]
name = "crisis"
number = "1709"
label = { nl = "Crisislijn", fr = "Ligne de crise", en = "Crisis line" }

[[queues]]
name = "hulp"
number = "1710"
label = "Hulplijn"

[[queues]]
name = "algemeen"
number = "*"
"""


def test_labels_per_language_or_one_for_all_and_none() -> None:
    crisis, help_line, general = parse_config(QUEUES).queues
    assert crisis.labels == {"nl": "Crisislijn", "fr": "Ligne de crise", "en": "Crisis line"}
    assert help_line.labels == {"nl": "Hulplijn"}  # one text: Dutch, the pages' fallback in every language
    assert general.labels == {}


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (
            'label = { nl = "Crisislijn", fr = "", en = "Crisis line" }',
            "[[queues]][0] label fr: must not be empty",
        ),
        ('label = { nederlands = "Crisislijn" }', "[[queues]][0] label: 'nederlands' is not a language code"),
        ('label = { NL = "Crisislijn" }', "[[queues]][0] label: 'NL' is not a language code"),
        ("label = { nl = 3 }", "[[queues]][0] label"),
        ("label = 3", "[[queues]][0] label"),
        ('label = { nl = "' + "x" * 61 + '" }', "[[queues]][0] label nl: one line of at most 60 characters"),
        ('label = { nl = "Crisis\\nlijn" }', "[[queues]][0] label nl: one line"),
    ],
)
def test_a_bad_label_stops_start_up_naming_the_key(change: str, names: str) -> None:
    text = QUEUES.replace(
        'label = { nl = "Crisislijn", fr = "Ligne de crise", en = "Crisis line" }', change, 1
    )
    with pytest.raises(ConfigError) as stopped:
        parse_config(text)
    assert names in str(stopped.value)
