"""Kaggle credentials as kaggle 2.x looks for them: an access token first (KAGGLE_API_TOKEN, or
~/.kaggle/access_token), then a user name and legacy key (KAGGLE_USERNAME/KAGGLE_KEY, or kaggle.json).
Read without the SDK and without the network: `check` and packaging need them before any call."""

import json
import os
import pathlib

from core import redact

KEY_HINT = ("check KAGGLE_USERNAME and KAGGLE_KEY, or ~/.kaggle/kaggle.json (a new token from "
            "kaggle.com > Settings > API)")
TOKEN_HINT = ("the access token from {source} is expired or revoked: create a new one at kaggle.com > Settings > "
              "API and put it in KAGGLE_API_TOKEN or ~/.kaggle/access_token")


def access_token():
    """(token, where it was found) as kaggle 2.x looks for it first: KAGGLE_API_TOKEN (the token, or a
    file holding it), then ~/.kaggle/access_token(.txt); (None, None) without one."""
    value = os.environ.get("KAGGLE_API_TOKEN", "").strip()
    candidates = [(value, "KAGGLE_API_TOKEN")] if value else []
    candidates += [(str(pathlib.Path.home() / ".kaggle" / name), f"~/.kaggle/{name}")
                   for name in ("access_token", "access_token.txt")]
    for candidate, source in candidates:
        path = pathlib.Path(candidate)
        try:
            token = path.read_text().strip() if path.is_file() else (candidate if source == "KAGGLE_API_TOKEN" else "")
        except OSError:
            token = ""
        if token:
            redact.add_secret(token)
            return token, source
    return None, None


def credentials():
    """(username or None, how the credentials were found) from the environment, an access token or
    kaggle.json; (None, None) if there are none. A token alone names no user: the SDK asks Kaggle."""
    folder = pathlib.Path(os.environ.get("KAGGLE_CONFIG_DIR") or pathlib.Path.home() / ".kaggle")
    try:
        values = json.loads((folder / "kaggle.json").read_text())
    except (OSError, ValueError):
        values = {}
    values = values if isinstance(values, dict) else {}
    if os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY"):
        return os.environ["KAGGLE_USERNAME"], "KAGGLE_USERNAME/KAGGLE_KEY"
    token_source = access_token()[1]
    if token_source:
        return os.environ.get("KAGGLE_USERNAME") or values.get("username"), token_source
    if values.get("username") and values.get("key"):
        redact.add_secret(values["key"])
        return values["username"], str(folder / "kaggle.json")
    return None, None


def credentials_hint(api=None):
    """What to check when Kaggle refuses: the access token the SDK signed in with (it tries one first),
    or the user name and key."""
    method = api.config_values.get("auth_method") if api is not None else None
    source = access_token()[1]
    if source and method in (None, "ACCESS_TOKEN"):
        return TOKEN_HINT.format(source=source)
    return KEY_HINT
