"""Generate a realistic synthetic mailbox for benchmarks: receipts, renewal notices, support threads, newsletters.

Messages are multipart/alternative (text + HTML, ~15 KB), some with a PDF
invoice attached, in French and English, from a handful of providers. The
generator is deterministic (seeded) so figures are comparable between runs.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

PROVIDERS = [
    ("Netflix", "info@account.netflix.com", "Votre facture Netflix", "13,49 €"),
    ("Spotify", "no-reply@spotify.com", "Your Spotify Premium receipt", "€11.12"),
    ("Free Mobile", "freemobile@free-mobile.fr", "Votre facture Free Mobile", "19,99 €"),
    ("Canal+", "noreply@canal-plus.com", "Votre prélèvement CANAL+", "27,99 €"),
    ("Apple", "no_reply@email.apple.com", "Your receipt from Apple.", "2,99 €"),
    ("Deezer", "noreply@deezer.com", "Confirmation de votre paiement Deezer", "11,99 €"),
    ("Dropbox", "no-reply@dropbox.com", "Your Dropbox Plus receipt", "US$11.99"),
    ("EDF", "service-client@edf.fr", "Votre échéancier EDF", "84,00 €"),
]
LOREM = (
    "Merci pour votre confiance. Thank you for being a member. Votre abonnement se renouvellera automatiquement. "
    "Retrouvez toutes vos factures dans votre espace client. Conditions générales de vente applicables. "
)


def _html(provider: str, amount: str, i: int) -> str:
    rows = "".join(
        f"<tr><td style='padding:4px'>Ligne {n}</td><td>{LOREM[: 40 + n]}</td><td>{amount}</td></tr>"
        for n in range(25)
    )
    return (
        f"<html><head><style>td{{font-family:Arial}}</style></head><body>"
        f"<h1>{provider}</h1><p>Bonjour Alice,</p><p>Nous avons bien reçu votre paiement de {amount}.</p>"
        f"<table>{rows}</table><p>{LOREM * 20}</p><p>Référence {i:08d}</p></body></html>"
    )


def _pdf(size: int, rng: random.Random) -> bytes:
    body = bytes(rng.getrandbits(8) for _ in range(size))
    return b"%PDF-1.4\n" + body + b"\n%%EOF\n"


def generate(count: int, seed: int = 7) -> Iterator[bytes]:
    """Yield `count` raw RFC 5322 messages (bytes, CRLF line endings as on the wire)."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 8, 0, tzinfo=UTC)
    pdf_blob = _pdf(30_000, rng)
    for i in range(count):
        provider, sender, subject, amount = PROVIDERS[i % len(PROVIDERS)]
        msg = EmailMessage()
        msg["From"] = f"{provider} <{sender}>"
        msg["To"] = "Alice Martin <alice.martin@example.org>"
        msg["Date"] = format_datetime(start + timedelta(hours=i * 3 + rng.randint(0, 2)))
        msg["Message-ID"] = f"<{seed}.{i}.bench@{sender.split('@')[1]}>"
        kind = i % 10
        if kind == 9:
            msg["Subject"] = f"Re: Demande n° {100000 + i // 10} - remboursement"
            msg.set_content(
                f"Bonjour Alice,\n\nNous procéderons au remboursement de {amount} sous 5 jours ouvrés.\n\n"
                f"Cordialement,\nJulie, conseillère {provider}\n\n" + LOREM * 30
            )
        elif kind == 8:
            msg["Subject"] = f"Les nouveautés {provider} de la semaine"
            msg.set_content(LOREM * 60)
            msg.add_alternative(_html(provider, "", i), subtype="html")
        else:
            msg["Subject"] = f"{subject} n°{i}"
            msg.set_content(f"Bonjour Alice,\n\nMontant : {amount}\nPériode : mensuelle\n\n" + LOREM * 25)
            msg.add_alternative(_html(provider, amount, i), subtype="html")
            if kind == 0:
                msg.add_attachment(
                    pdf_blob, maintype="application", subtype="pdf", filename=f"facture-{i}.pdf"
                )
        random.seed(seed * 1_000_003 + i)  # email.generator draws MIME boundaries from `random`
        yield msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def write_mbox(path: Path, count: int, seed: int = 7) -> int:
    """Write an mbox of `count` generated messages; returns its size in bytes."""
    with path.open("wb") as fh:
        for i, raw in enumerate(generate(count, seed)):
            fh.write(f"From bench@example.org Mon Jan  1 00:00:{i % 60:02d} 2024\n".encode())
            fh.write(raw.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From "))
            fh.write(b"\n")  # the blank line that separates messages
    return path.stat().st_size


def write_maildir(root: Path, count: int, seed: int = 7) -> None:
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for i, raw in enumerate(generate(count, seed)):
        (root / "cur" / f"{1700000000 + i}.M{i}P1.bench:2,S").write_bytes(raw)
