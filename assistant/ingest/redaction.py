"""Credentials never reach the index: find them in loaded text and redact them.

Detection is Yelp's ``detect-secrets`` (its pattern plugins: cloud keys, tokens of
GitHub, GitLab, Slack, Stripe, OpenAI, npm, PyPI, JWTs, private keys, basic-auth URLs, ...)
run offline with verification off, plus two things its line scanner misses in documents:
whole PEM private-key blocks, and ``key: value`` assignments whose key names a credential
(``aws_secret_access_key = ...``, kubeconfig ``client-key-data: ...``, ``token: ...``)
and whose value looks random (Shannon entropy, as detect-secrets computes it).
Pure functions over text; nothing here touches files.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from assistant.schemas import LoadedDocument, Section

#: detect-secrets plugins used. The high-entropy plugins are left out: on prose they
#: flag ordinary words; entropy is applied only to credential-named values below.
PLUGINS = (
    "AWSKeyDetector",
    "ArtifactoryDetector",
    "AzureStorageKeyDetector",
    "BasicAuthDetector",
    "CloudantDetector",
    "DiscordBotTokenDetector",
    "GitHubTokenDetector",
    "GitLabTokenDetector",
    "IbmCloudIamDetector",
    "IbmCosHmacDetector",
    "JwtTokenDetector",
    "KeywordDetector",
    "MailchimpDetector",
    "NpmDetector",
    "OpenAIDetector",
    "PrivateKeyDetector",
    "PypiTokenDetector",
    "SendGridDetector",
    "SlackDetector",
    "SoftlayerDetector",
    "SquareOAuthDetector",
    "StripeDetector",
    "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)

MARK = "[REDACTED {kind}]"

#: Lines worth handing to detect-secrets: a long run of key-like characters, a PEM
#: header or credentials inside a URL. Prose without any is skipped (it is most lines).
_CANDIDATE = re.compile(
    r"[A-Za-z0-9+/=_\-.]{16,}|PRIVATE KEY|://[^/\s:@]+:[^/\s@]+@", re.ASCII
)
_PEM_BLOCK = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----.*?"
    r"(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.DOTALL,
)
# Bounded repeats throughout: an unbounded [\w]* around the keyword backtracks
# quadratically on a long run of letters (8 KB took 18 s).
_ASSIGNMENT = re.compile(
    r"(?<![\w.\-])(?P<key>[\w.\-]{0,40}?(?:secret|token|passw(?:or)?d|pwd|api[_-]?key|"
    r"access[_-]?key|private[_-]?key|client[_-]?key|credential|auth|key-data|"
    r"certificate-data)[\w.\-]{0,40}?)"
    r"[\"']?[ \t]{0,8}[:=][ \t]{0,8}[\"']?(?P<value>[A-Za-z0-9+/=_\-.~]{16,4096})",
    re.IGNORECASE,
)
#: detect-secrets reads a long line in windows of this many characters (overlapping by
#: ``_OVERLAP``): its filters cost time quadratic in the line's length.
_WINDOW = 2000
_OVERLAP = 200
#: Bits per character above which a credential-named value counts as random, the
#: limit detect-secrets uses for hex strings (base64-like values score higher).
_ENTROPY_LIMIT = 3.0

_lock = threading.Lock()


def shannon_entropy(value: str) -> float:
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())


@cache
def _plugin_config() -> dict[str, Any]:
    return {"plugins_used": [{"name": name} for name in PLUGINS]}


@contextmanager
def _scanner() -> Iterator[Any]:
    """detect-secrets' ``scan_line`` with kubeplan's plugin set (its settings are global,
    hence the lock)."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import get_settings, transient_settings

    with _lock, transient_settings(_plugin_config()):
        # Never call a provider to verify a key: ingest runs offline.
        get_settings().disable_filters(
            "detect_secrets.filters.common.is_ignored_due_to_verification_policies"
        )
        yield scan_line


#: What a window of a long line must contain to be worth detect-secrets' time (its
#: plugins' own prefixes and keywords). A short line is always scanned whole.
_HINT_WORDS = (
    "key", "secret", "token", "passw", "pwd", "auth", "credential", "private", "bearer",
    "discord", "twilio", "ibm", "softlayer", "cloudant", "mailchimp", "telegram",
)
_HINT_PREFIX = re.compile(
    r"AKIA|ASIA|A3T|AGPA|AIDA|AROA|gh[pousr]_|glpat|xox[abposr]|sk_live|rk_live|sk-|npm_|"
    r"pypi-|eyJ|://[^/\s]+@|SG\.|sq0|-us\d|:AA|AKC|\bAP[0-9A-F]|\bAC[a-z0-9]{32}|"
    r"\bSK[a-z0-9]{32}"
)


def _hinted(window: str) -> bool:
    low = window.lower()  # substring tests run at C speed; a case-blind regex does not
    return any(word in low for word in _HINT_WORDS) or bool(_HINT_PREFIX.search(window))


_SHORT_LINE = 2000


def _windows(line: str) -> Iterator[str]:
    if len(line) <= _SHORT_LINE:
        yield line
        return
    for start in range(0, len(line), _WINDOW - _OVERLAP):
        window = line[start : start + _WINDOW]
        if _hinted(window):
            yield window


def _line_secrets(line: str, scan_line: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for window in _windows(line):
        found += _window_secrets(window, scan_line)
    for match in _ASSIGNMENT.finditer(line):
        value = match.group("value")
        if shannon_entropy(value) >= _ENTROPY_LIMIT and not value.isalpha():
            found.append(("credential", value))
    return found


def _window_secrets(line: str, scan_line: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for secret in scan_line(line):
        value = secret.secret_value or ""
        if secret.type == "Private Key" or len(value) < 6:
            continue  # PEM blocks are handled whole; tiny matches are plugin noise
        found.append((secret.type, value))
    return found


def redact_text(text: str, scan_line: Any | None = None) -> tuple[str, int]:
    """``text`` with every credential replaced by ``[REDACTED <kind>]``, and how many."""
    if scan_line is None:
        with _scanner() as scan:
            return redact_text(text, scan)
    count = 0

    def pem(match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return MARK.format(kind="private key")

    text = _PEM_BLOCK.sub(pem, text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not _CANDIDATE.search(line):
            continue
        secrets = _line_secrets(line, scan_line)
        # Longest first, so a value that contains another is replaced whole.
        for kind, value in sorted(set(secrets), key=lambda s: -len(s[1])):
            if value in line:
                line = line.replace(value, MARK.format(kind=kind.lower()))
                count += 1
        lines[i] = line
    return "\n".join(lines), count


def redact_document(doc: LoadedDocument) -> tuple[LoadedDocument, int]:
    """``doc`` with credentials redacted from its title, headings and text."""
    total = 0
    with _scanner() as scan:
        title, n = redact_text(doc.title, scan)
        total += n
        sections = []
        for section in doc.sections:
            text, n = redact_text(section.text, scan)
            total += n
            headings = []
            for heading in section.heading_path:
                heading, n = redact_text(heading, scan)
                total += n
                headings.append(heading)
            sections.append(Section(heading_path=headings, text=text))
    if not total:
        return doc, 0
    return doc.model_copy(update={"title": title, "sections": sections}), total


__all__ = ["redact_document", "redact_text", "shannon_entropy"]
