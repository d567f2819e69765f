"""The texts of the desk's mails: an escalation to an escalation point and an agent's feedback to the KB editors.

Plain text, labels in Dutch and French (the points and editors work in either language). The citizen's contact
data is in the escalation because the point calls the citizen back; it never holds a national number (the web
layer masks one before anything is queued).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .outbox import OutgoingMail

CITIZEN_FIELDS = (
    ("name", "Naam / Nom"),
    ("phone", "Telefoon / Téléphone"),
    ("email", "E-mail"),
    ("address", "Adres / Adresse"),
)


@dataclass(frozen=True)
class EscalationText:
    to: str
    point_title: str
    contact_id: int
    agent_name: str
    question: str
    message: str
    citizen: dict[str, str]
    deadline: dt.date | None
    handling_days: int | None
    scripts: list[str]


def escalation_mail(e: EscalationText) -> OutgoingMail:
    lines = [
        f"Escalatie / Escalade: {e.point_title}",
        f"Contact: #{e.contact_id}    Agent: {e.agent_name}",
    ]
    if e.deadline:
        lines.append(
            f"Af te handelen tegen / À traiter pour le: {e.deadline.isoformat()} ({e.handling_days} werkdagen / jours ouvrables)"
        )
    lines += ["", "Vraag van de burger / Question du citoyen:", e.question.strip() or "-", ""]
    if e.message.strip():
        lines += ["Bericht van de agent / Message de l'agent:", e.message.strip(), ""]
    lines.append("Contactgegevens van de burger (bevestigd) / Coordonnées du citoyen (confirmées):")
    for key, label in CITIZEN_FIELDS:
        if e.citizen.get(key):
            lines.append(f"  {label}: {e.citizen[key]}")
    if e.scripts:
        lines += ["", "Gebruikte scripts / Scripts utilisés: " + ", ".join(e.scripts)]
    subject = f"[Escalatie #{e.contact_id}] {e.point_title}"
    return OutgoingMail(kind="escalation", to=(e.to,), subject=subject, body="\n".join(lines) + "\n")


def feedback_mail(
    editors: tuple[str, ...], item_id: str, item_title: str, text: str, agent_name: str
) -> OutgoingMail:
    body = (
        f"Feedback op / Remarque sur: {item_title} ({item_id})\n"
        f"Van / De: {agent_name or 'een andere desk / un autre desk'}\n\n{text.strip()}\n"
    )
    return OutgoingMail(kind="feedback", to=tuple(editors), subject=f"[KB feedback] {item_title}", body=body)
