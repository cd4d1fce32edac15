"""What a platform's refusals and failures become: one line that names the cause and what to do
(`explain`), errors the command line prints without a traceback, and a platform state with its detail."""

from core.errors import UserError


class MissingSDK(UserError):
    """A platform's SDK or tool is not installed."""


class MissingCredentials(UserError):
    """A platform needs credentials that were not found."""


class PlatformError(UserError):
    """The platform refused or failed a request."""


class Transient(PlatformError):
    """A failure that may pass on its own (rate limit, server error, dropped connection): a follower
    may wait `retry_after` seconds (None: its own back-off) and ask again."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class State(str):
    """A run's state (one of adapters.store.STATES) with the platform's own words about it, which go
    into status.json beside the state."""

    def __new__(cls, state, detail=None):
        value = super().__new__(cls, state)
        value.detail = detail
        return value


UNREACHABLE = ("Connection refused", "Max retries exceeded", "Name or service not known", "timed out",
               "Temporary failure in name resolution", "Network is unreachable", "urlopen error",
               "Connection aborted", "RemoteDisconnected", "Connection reset")
TRANSIENT_STATUS = (429, 500, 502, 503, 504)


def http_response(error):
    """The HTTP response behind an SDK's error, also where the SDK raised its own error in its place
    (kaggle turns a 401 into a ValueError about the kernel slug): None when there was none."""
    while error is not None:
        response = getattr(error, "response", None)
        if getattr(response, "status_code", None) is not None:
            return response
        error = error.__cause__ or error.__context__
    return None


def explain(platform, action, error, credentials_hint):
    """A PlatformError that says which kind of failure it was: credentials rejected, a transient failure
    (rate limit, server error, platform not reachable: a Transient), or the platform's own answer."""
    text = str(error)
    response = http_response(error)
    status = getattr(response, "status_code", None)
    if status == 401 or (status == 403 and response is getattr(error, "response", None)) \
            or "Invalid username or password" in text or "Unauthenticated" in text:
        return PlatformError(f"{platform} rejected the credentials ({action}): {credentials_hint}")
    last = text.strip().splitlines()[-1][:300] if text.strip() else type(error).__name__
    if status in TRANSIENT_STATUS:
        retry_after = response.headers.get("Retry-After", "")
        return Transient(f"{platform} answered HTTP {status} ({action}): "
                         f"{'rate limited' if status == 429 else 'a server error'}, try again later ({last})",
                         float(retry_after) if retry_after.replace(".", "", 1).isdigit() else None)
    if status is None and (any(marker in text for marker in UNREACHABLE)
                           or type(error).__name__ in ("ConnectionError", "Timeout")):
        return Transient(f"cannot reach {platform} ({action}): check the network or proxy, or try again later "
                         f"({type(error).__name__}: {last})")
    detail = f"HTTP {status}: " if status else ""
    return PlatformError(f"{platform} {action} failed: {detail}{text.strip().splitlines()[-1][:500] if text.strip() else type(error).__name__}")
