"""`[[queues]]`, `[[menus]]` and `[prompts]` as DESIGN.md §9 writes them: the 1700 line's config parses with its
defaults, and every mistake a manager can make stops start-up naming the key."""

from __future__ import annotations

import pytest

from agent_desktop.config import ConfigError, parse_config

LINE_1700 = """
[prompts]
dir = "prompts"

[[queues]]
name = "vaccinatie"
number = ["1701", "+3250000001"]
skills = ["vaccination"]
priority = 1
open = ["mon-fri 09:00-16:00", "sat,sun 10:00-18:00"]
closed_dates = ["2026-12-31"]
welcome = "welcome.wav"
wait_message = "wait.wav"
callback_offer = "callback_offer.wav"
callback_confirmed = "callback_confirmed.wav"
overflow_to = "+3225000000"
closed = "closed.wav"

[[queues]]
name = "algemeen"
number = "*"

[[menus]]
number = "1700"
prompt = "menu.wav"
options = {1 = "vaccinatie", 2 = "algemeen"}
default = "algemeen"
"""


def test_the_1700_line_parses_with_the_designed_defaults() -> None:
    config = parse_config(LINE_1700)
    vaccination, general = config.queues
    assert vaccination.numbers == ("1701", "+3250000001") and general.numbers == ("*",)
    assert vaccination.open == ("mon-fri 09:00-16:00", "sat,sun 10:00-18:00")
    assert (
        vaccination.wait_message_every_s,
        vaccination.callback_offer_after_s,
        vaccination.overflow_after_s,
    ) == (
        60,
        150,
        180,
    )
    assert (general.open, general.holidays, general.no_agents, general.min_agents) == ((), "be", "closed", 1)
    assert vaccination.prompt_keys() == {
        "welcome": "welcome.wav",
        "wait_message": "wait.wav",
        "callback_offer": "callback_offer.wav",
        "callback_confirmed": "callback_confirmed.wav",
        "closed": "closed.wav",
    }
    (menu,) = config.menus
    assert menu.options == {"1": "vaccinatie", "2": "algemeen"}
    assert (menu.timeout_s, menu.repeat, menu.default) == (8.0, 2, "algemeen")
    assert config.prompts.dir == "prompts"
    assert config.acd.callback_retry_after_min == 60


@pytest.mark.parametrize(
    ("change", "names"),
    [
        (('open = ["mon-fri 09:00-16:00", "sat,sun 10:00-18:00"]', 'open = "mon-fri 09:00-16:00"'), "open"),
        (
            ('open = ["mon-fri 09:00-16:00", "sat,sun', 'open = ["ma-vr 09:00-16:00", "sat,sun'),
            "open: 'ma-vr'",
        ),
        (('name = "algemeen"', 'name = "vaccinatie"'), "[[queues]][1] name"),
        (('number = "*"', 'number = "1701"'), "already taken by [[queues]][0]"),
        (('number = "*"', 'number = "sip:evil@x"'), "[[queues]][1] number"),
        (('closed = "closed.wav"', 'no_agents = "busy"'), "[[queues]][0] no_agents"),
        (('closed = "closed.wav"', "overflow_after_s = -1"), "[[queues]][0] overflow_after_s"),
        (('closed_dates = ["2026-12-31"]', 'closed_dates = ["31-12-2026"]'), "closed_dates"),
        (('2 = "algemeen"}', '2 = "algemene"}'), "[[menus]][0] options 2: no queue named 'algemene'"),
        (("options = {1 =", "options = {12 ="), "[[menus]][0] options: '12'"),
        (('default = "algemeen"', 'default = ""'), "[[menus]][0] default"),
        (('prompt = "menu.wav"', 'prompt = ""'), "[[menus]][0] prompt"),
        (('number = "1700"', 'number = "1701"'), "[[menus]][0] number: '1701' is already taken"),
        (("priority = 1", 'colour = "red"'), "[[queues]][0] colour: unknown key"),
    ],
)
def test_mistakes_stop_start_up_naming_the_key(change: tuple[str, str], names: str) -> None:
    old, new = change
    assert old in LINE_1700
    with pytest.raises(ConfigError) as stopped:
        parse_config(LINE_1700.replace(old, new, 1))
    assert names in str(stopped.value)


def test_a_missing_or_undecodable_prompt_stops_start_up_naming_its_key(tmp_path) -> None:
    from agent_desktop.acd.queues import build_directory
    from agent_desktop.media.hold_music import HoldMusic, load_pcm

    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "broken.wav").write_bytes(b"RIFF not really a wav")
    base = '[[queues]]\nname = "a"\nnumber = "1701"\n'
    music = HoldMusic(load_pcm(None))
    missing = parse_config(base + 'welcome = "nope.wav"\n', base_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"\[\[queues\]\]\[0\] welcome: .*nope.wav"):
        build_directory(missing, music)
    broken = parse_config(base + 'closed = "broken.wav"\n', base_dir=str(tmp_path))
    with pytest.raises(ConfigError, match=r"\[\[queues\]\]\[0\] closed: .*broken.wav"):
        build_directory(broken, music)
    menu = parse_config(
        base + '[[menus]]\nnumber = "1700"\nprompt = "gone.ogg"\ndefault = "a"\n', base_dir=str(tmp_path)
    )
    with pytest.raises(ConfigError, match=r"\[\[menus\]\]\[0\] prompt: .*gone.ogg"):
        build_directory(menu, music)


def test_without_queues_one_default_queue_takes_every_number() -> None:
    from agent_desktop.acd.queues import build_directory
    from agent_desktop.media.hold_music import HoldMusic, load_pcm

    directory = build_directory(parse_config(""), HoldMusic(load_pcm(None)))
    queue = directory.route("1234")
    assert queue is directory.route("1700") and queue.name == "default"
    assert queue.prompts == {} and queue.skills == frozenset()
    import datetime as dt

    assert queue.open_at(dt.datetime(2026, 12, 25, 3, 0, tzinfo=dt.UTC))  # Christmas night: always open
