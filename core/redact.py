"""The one redaction point: every text that reaches a file or the terminal passes `redact`, which
removes credentials. Knows no platform: it hides the values of environment variables whose names say
they are secret, credentials in URLs and HTTP headers, and values registered with `add_secret` (a key
read from a platform's config file).

A secret's value is hidden wherever it appears only when it cannot be ordinary text (see `distinctive`).
A short or word-like value (a password `codalab` on CodaLab) is hidden only where a secret can appear:
after a secret's name and `=` or `:`, and in a URL's credentials. Masking it everywhere would destroy the
text around it (the platform's name, in every line and in results.json)."""

import os
import re
import sys

SECRET_NAME = re.compile(r"(KEY|TOKEN|PASSWORD|PASSWD|SECRET|APIKEY|CREDENTIAL)", re.I)
PATTERNS = (
    re.compile(r"(?i)([?&;](?:api_?key|apikey|key|token|access_token|password|passwd|secret)=)[^&#\s'\"]+"),
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:basic|bearer|token)\s+)[A-Za-z0-9+/=._~-]+"),
    re.compile(r"(?i)(\b(?:api_?key|apikey|password|secret|token)['\"]?\s*[:=]\s*['\"]?)[^\s'\",}]{6,}"),
    re.compile(r"(https?://[^/\s:@]+:)[^@\s/]+(@)"),
)
MASK = "[redacted]"
_registered = set()


def add_secret(value):
    """A value to hide wherever it appears (at least 4 characters, so that masking stays meaningful)."""
    if value and len(str(value)) >= 4:
        _registered.add(str(value))


def secrets():
    found = {value for name, value in os.environ.items() if SECRET_NAME.search(name) and len(value) >= 4}
    return sorted(found | _registered, key=len, reverse=True)


def distinctive(value):
    """Whether a secret's value cannot be ordinary text: 12 characters or more, or 8 or more that are not
    all letters (a word). Only such values are masked wherever they appear."""
    return len(value) >= 12 or (len(value) >= 8 and not value.isalpha())


def in_context(value):
    """Where a word-like secret can appear: after a secret's name and = or :, or as a URL's password."""
    word = re.escape(value)
    return (re.compile(rf"(?i)(\b\w*(?:key|token|password|passwd|secret|credential)\w*['\"]?\s*[:=]\s*['\"]?){word}(?!\w)()"),
            re.compile(rf"(://[^/\s:@]+:){word}(@)"))


def redact(text, found=None):
    """`text` without credentials; `found`: the secrets() of the moment, when a caller redacts many texts."""
    if not isinstance(text, str) or not text:
        return text
    for value in secrets() if found is None else found:
        if distinctive(value):
            text = text.replace(value, MASK)
        else:
            for pattern in in_context(value):
                text = pattern.sub(lambda match: match.group(1) + MASK + match.group(2), text)
    for pattern in PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK + (match.group(2) if pattern.groups > 1 else ""), text)
    return text


def redact_data(value, found=None):
    """Every string inside a JSON-like value, redacted (the environment read for secrets once, not once
    per string: a results.json has hundreds)."""
    found = secrets() if found is None else found
    if isinstance(value, str):
        return redact(value, found)
    if isinstance(value, dict):
        return {key: redact_data(item, found) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_data(item, found) for item in value]
    return value


class RedactingStream:
    """A text stream that redacts what is written to it (a platform run's stdout and stderr)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        return self.stream.write(redact(text))

    def __getattr__(self, name):
        return getattr(self.stream, name)


def protect_streams():
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout, sys.stderr = RedactingStream(sys.stdout), RedactingStream(sys.stderr)
