"""The satisfaction survey (DESIGN.md §10): what the caller hears after the agent hands the call over with
`call.survey`, and how each DTMF answer is read.

Each question plays through the caller's feed; a digit pressed while it plays stops it (read as the menus read
theirs, `menus.next_digit`), else the caller has `timeout_s` from its end. 1-9 are themselves and 0 is 10; any
other key (* # A-D) plays the question again, once: a second wrong key, or no digit in time, is `null`. The
answers are posted after each question, so a caller who hangs up mid-survey leaves what was answered (the rest
null). Then `thanks` and BYE. The whole script is one task of the call's session: the hang-up cancels it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, ConfigError
from ..media.audio_file import AudioFileError, decode_8k_mono
from ..media.hold_music import HoldMusic
from .call_session import CallSession
from .menus import next_digit

log = logging.getLogger(__name__)

ANSWER_KEYS = "0123456789"


@dataclass(frozen=True)
class Survey:
    questions: tuple[HoldMusic, ...]
    thanks: HoldMusic | None
    timeout_s: float


def load_survey(config: Config) -> Survey | None:
    """The configured survey with its prompts decoded, or None when `[survey] questions` is empty. A prompt that
    cannot be played stops start-up (ConfigError naming its key), as the queues' do."""
    sc = config.survey
    if not sc.questions:
        return None
    folder = config.path(config.prompts.dir)
    cache: dict[str, HoldMusic] = {}

    def load(name: str, where: str) -> HoldMusic:
        if name not in cache:
            try:
                cache[name] = HoldMusic(decode_8k_mono(Path(folder) / name))
            except AudioFileError as e:
                raise ConfigError(f"{where}: {e}") from None
        return cache[name]

    questions = tuple(load(q, f"[survey] questions[{i}]") for i, q in enumerate(sc.questions))
    thanks = load(sc.thanks, "[survey] thanks") if sc.thanks else None
    return Survey(questions, thanks, sc.timeout_s)


def score(digit: str) -> int:
    return 10 if digit == "0" else int(digit)


async def ask(session: CallSession, question: HoldMusic, timeout_s: float) -> int | None:
    """One question's answer, 1-10, or None."""
    feed = session.feed
    if feed is None:
        return None
    for _ in range(2):  # a wrong key repeats the question once
        playing = feed.play(question)
        digit = await next_digit(session, None, playing)
        if digit is not None:
            feed.switch("none")  # the digit stops the question
        else:
            digit = await next_digit(session, None, timeout_s)
        if digit is None:
            return None
        if digit in ANSWER_KEYS:
            return score(digit)
    return None


async def run_survey(
    session: CallSession,
    survey: Survey,
    save: Callable[[list[int | None], bool], object],
) -> list[int | None]:
    """Ask every question, thank the caller and hang up; `save(answers, finished)` after each step."""
    answers: list[int | None] = [None] * len(survey.questions)
    while not session.digits.empty():  # keys pressed while talking to the agent answer nothing
        session.digits.get_nowait()
    for i, question in enumerate(survey.questions):
        answers[i] = await ask(session, question, survey.timeout_s)
        save(list(answers), False)
    feed = session.feed
    if survey.thanks is not None and feed is not None:
        await feed.play(survey.thanks)
    save(list(answers), True)
    log.info("call %s: survey answered %s", session.id, answers)
    await session.leg.hangup()
    return answers
