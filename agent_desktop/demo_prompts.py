"""The demo centre's voice prompts (DESIGN.md §9, embedded default), spoken once by espeak-ng into WAV files.

A real centre records its prompts with a voice actor; the demo must work on a fresh clone with nothing but Debian
packages, so `make run` has espeak-ng read the centre's own texts the first time and keeps the files after that
(an agent or manager may replace them with recordings; they are never overwritten).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# file name -> (espeak-ng voice, text). Flemish 1700-style wording; the menu and closing message also in French,
# as federal lines announce both.
DEMO_PROMPTS: dict[str, tuple[str, str]] = {
    "menu.wav": (
        "nl",
        "Welkom bij de infolijn. Voor vragen over vaccinatie, druk 1. Voor alle andere vragen, druk 2.",
    ),
    "welcome.wav": (
        "nl",
        "Welkom bij de infolijn. Dit gesprek kan worden opgenomen voor opleidingsdoeleinden.",
    ),
    "wait.wav": (
        "nl",
        "Al onze medewerkers zijn in gesprek. Blijf aan de lijn, u wordt zo snel mogelijk geholpen.",
    ),
    "callback_offer.wav": ("nl", "Wilt u liever teruggebeld worden? Druk dan nu op 1."),
    "callback_confirmed.wav": (
        "nl",
        "Bedankt. Wij bellen u binnen twee werkdagen terug op dit nummer. Tot horens.",
    ),
    "closed.wav": (
        "nl",
        "De infolijn is nu gesloten. Wij zijn bereikbaar op werkdagen van negen tot zestien uur. "
        "Bedankt voor uw oproep.",
    ),
    "recording_notice.wav": ("nl", "Dit gesprek wordt opgenomen om onze dienstverlening te verbeteren."),
    "survey_wait.wav": (
        "nl",
        "Hoe tevreden bent u over de wachttijd? Geef een cijfer van 1 tot 10; druk 0 voor 10.",
    ),
    "survey_polite.wav": ("nl", "Hoe vriendelijk was de medewerker? Geef een cijfer van 1 tot 10."),
    "survey_info.wav": ("nl", "Kreeg u de informatie die u zocht? Geef een cijfer van 1 tot 10."),
    "survey_recommend.wav": ("nl", "Zou u de infolijn aanraden aan anderen? Geef een cijfer van 1 tot 10."),
    "survey_thanks.wav": ("nl", "Bedankt voor uw antwoorden. Tot horens."),
    "closed_fr.wav": (
        "fr",
        "La ligne info est fermée. Nous sommes joignables les jours ouvrables de neuf à seize heures. Merci.",
    ),
}


class PromptError(RuntimeError):
    """The prompts could not be spoken; the message says what to install or fix."""


def speak_prompts(
    folder: Path, texts: dict[str, tuple[str, str]] | None = None, timeout_s: float = 60
) -> list[Path]:
    """Write every prompt of `texts` that `folder` does not hold yet; return the files written."""
    texts = DEMO_PROMPTS if texts is None else texts
    missing = {name: spoken for name, spoken in texts.items() if not (folder / name).exists()}
    if not missing:
        return []
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise PromptError("espeak-ng is not installed (Debian package espeak-ng): the demo's prompts need it")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (voice, text) in missing.items():
        target = folder / name
        partial = target.with_suffix(".part.wav")
        try:
            subprocess.run(
                [espeak, "-v", voice, "-s", "150", "-w", str(partial), text],
                check=True,
                timeout=timeout_s,
                capture_output=True,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            partial.unlink(missing_ok=True)
            raise PromptError(f"espeak-ng could not speak {name}: {exc}") from None
        partial.replace(target)  # a half-written prompt never looks finished to the next start
        written.append(target)
    return written
