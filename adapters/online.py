"""`portability platforms --online`: one cheap, authenticated, read-only call to each platform through
its own SDK or CLI, which says whether the user's credentials work, never creating anything there.
Each adapter's `check_online` calls one function here; each answers an `Online`.

The calls: Kaggle, the user's own kernels (one page of one); Comet, the key's workspaces; OpenML, the
evaluation measures with the key (OpenML's API checks a key on every call that carries one, reads too,
and has no "who am I" call); CodaLab, `cl wls .mine` (the user's worksheets) on the worksheet's server;
BEAT, `beat toolchains list --remote`; Docker, the engine's version and whether the base image is here
(never a pull: nothing asks a registry).
"""

import collections
import contextlib
import io
import json
import logging
import os
import pathlib
import re
import subprocess
import tempfile
import threading
import time

from adapters.errors import UNREACHABLE, PlatformError, explain, http_response

TIMEOUT = 10.0  # seconds a platform may take to answer

# works: True (the platform accepted the credentials), False (it refused them, or gave no answer), None (nothing to
# check: no credentials, and the platform runs without them); text: one line that says which, in the platform's words
Online = collections.namedtuple("Online", "works text")


class NoAnswer(Exception):
    """The platform said nothing within the time given."""


class Refused(Exception):
    """The platform's own refusal, in its words."""


@contextlib.contextmanager
def quiet():
    """The SDKs' own printing and logging (warnings, help texts) kept off the screen: the line says it."""
    before = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(before)


def within(timeout, call):
    """call()'s value, or its exception; NoAnswer when it has not returned after `timeout` seconds (the
    call is left to end on its own in a daemon thread: an SDK cannot always be interrupted)."""
    outcome = {}

    def run():
        try:
            outcome["value"] = call()
        except BaseException as error:  # an SDK's SystemExit too
            outcome["error"] = error

    worker = threading.Thread(target=run, daemon=True)
    with quiet():
        worker.start()
        worker.join(timeout)
    if worker.is_alive():
        raise NoAnswer()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def platform_words(text):
    """The message in an API's error body (JSON message/msg/detail, OpenML's oml:message), else the text."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "msg", "detail", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    if "<oml:message>" in text:
        return text.split("<oml:message>")[1].split("</oml:message>")[0]
    return " ".join(text.split())[:300]


def answered(platform, action, call, timeout, hint):
    """Online from one call: True with what it read, or False with the platform's refusal (and what to
    check), why it could not be reached, or that it did not answer in time."""
    started = time.monotonic()
    try:
        detail = within(timeout, call)
    except NoAnswer:
        return Online(False, f"no answer from {platform} within {timeout:g} s ({action}): check the network or proxy, "
                             "or try again later")
    except Refused as refusal:
        return Online(False, f"{platform} refused the credentials: {refusal}; {hint}")
    except PlatformError as error:  # the adapter's own message (Kaggle's sign-in)
        return Online(False, str(error))
    except Exception as error:  # the SDKs raise requests', their own and ValueError types
        return Online(False, failure(platform, action, error, hint))
    return Online(True, f"credentials work: {platform} {action}{detail or ''} ({time.monotonic() - started:.1f} s)")


def failure(platform, action, error, hint):
    """What an SDK's exception means: the platform's words with the HTTP status behind it, else the
    adapters' usual reading (not reachable, a server error)."""
    response = http_response(error)
    status = getattr(response, "status_code", None)
    if status in (401, 403):
        return f"{platform} refused the credentials: HTTP {status} \"{platform_words(response.text)}\"; {hint}"
    if status is not None and status < 500 and status != 429:  # another refusal, in its words
        return f"{platform} answered HTTP {status} \"{platform_words(response.text)}\" ({action}); {hint}"
    return str(explain(platform, action, error, hint))


def not_answering(platform, output):
    """Whether a CLI's output says the platform could not be reached (as opposed to a refusal)."""
    return any(marker in output for marker in UNREACHABLE) or "ConnectionError" in output


# the platforms ----------------------------------------------------------------------------------
def kaggle(adapter, timeout=TIMEOUT):
    from adapters.kaggle_auth import credentials_hint

    def call():
        kernels = adapter.api().kernels_list(mine=True, page_size=1) or []
        return f" (as {adapter.api().config_values.get('username') or 'you'}{', newest ' + kernels[0].ref if kernels else ''})"

    return answered("Kaggle", "listed your kernels", call, timeout, credentials_hint())


def comet(adapter, timeout=TIMEOUT):
    key = os.environ.get("COMET_API_KEY")
    if not key:
        return Online(None, "no COMET_API_KEY: runs log offline (nothing to sign in to)")

    def call():
        import comet_ml

        names = comet_ml.API(api_key=key, cache=False).get_workspaces() or []
        return f": {', '.join(names[:3])}{', ...' if len(names) > 3 else ''}"

    return answered("Comet", "listed your workspaces", call, timeout,
                    "check COMET_API_KEY (comet.com > Account settings > API Keys)")


def openml(adapter, timeout=TIMEOUT):
    from adapters import openml as platform

    try:
        client = platform.configure()
    except Exception as error:  # the client reads its config file and makes its cache folder at start
        return Online(False, f"the openml client could not start: {type(error).__name__}: {error}")
    if not client.config.apikey:
        return Online(None, "no OPENML_APIKEY: runs are kept here to publish later (nothing to sign in to)")

    def call():
        try:
            client.evaluations.list_evaluation_measures()
        except client.exceptions.OpenMLServerException as error:
            words = f"\"{str(error.message).removesuffix(' - None')}\" (code {error.code})"  # no additional info
            if error.code in (102, 103):
                raise Refused(words) from None
            raise PlatformError(f"OpenML answered {words} to a read with your key") from None
        return f" at {client.config.server}"

    return answered("OpenML", "read with your key", call, timeout,
                    "check OPENML_APIKEY (openml.org > your profile > API key)")


def run_cli(command, timeout, **options):
    """A platform's CLI: its output, or NoAnswer when it has not ended within `timeout` (then it is ended)."""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
                              **options)
    except subprocess.TimeoutExpired:
        raise NoAnswer() from None


def codalab(adapter, timeout=TIMEOUT):
    from adapters.codalab import cl_path, split_worksheet

    address = split_worksheet(adapter.platform_options["worksheet"])[0]

    def call():
        done = run_cli([cl_path(), "wls", *(["-a", address] if address else []), ".mine", ".limit=1", "-u"], timeout)
        output = (done.stderr.strip() or done.stdout.strip())  # cl's error, not its first-run banner
        if done.returncode != 0:
            last = output.splitlines()[-1] if output else f"exit code {done.returncode}"
            if not_answering("CodaLab", output):
                raise PlatformError(f"cannot reach CodaLab at {address or 'its default server'}: check the worksheet's "
                                    f"server (PORTABILITY_CODALAB_WORKSHEET) and the network ({last})")
            if any(word in output for word in ("Invalid username or password", "Unauthorized", "401", "403")):
                raise Refused(f"\"{last}\"")
            raise PlatformError(f"`cl wls` failed on {address or 'the default server'}: \"{last}\"; check the worksheet's "
                                "server (PORTABILITY_CODALAB_WORKSHEET, SERVER::NAME)")
        user = os.environ.get("CODALAB_USERNAME") or "your `cl login`"
        return f" on {address or 'its default server'} (as {user})"

    return answered("CodaLab", "listed your worksheets", call, timeout + 1,
                    "check CODALAB_USERNAME and CODALAB_PASSWORD (or run `cl login`)")


def beat(adapter, timeout=TIMEOUT):
    from adapters import beat_remote

    if not adapter.token():
        return Online(None, "no BEAT_TOKEN: runs on BEAT's local executor (nothing to sign in to)")
    url = adapter.platform_url() or "the default BEAT platform"

    def call():
        with tempfile.TemporaryDirectory() as folder:
            try:
                done = beat_remote.beat(adapter, pathlib.Path(folder), "toolchains", "list", "--remote",
                                        check=False, timeout=timeout)
            except subprocess.TimeoutExpired:
                raise NoAnswer() from None
        output = done.stdout + done.stderr
        if done.returncode == 0:
            return f" on {url} (as {adapter.user})"
        status = re.search(r"GET error (\d+): .*\nError:(.*)", output)  # beat.cmdline's WebAPIError: the answer
        if status is None and not_answering("BEAT", output):
            raise PlatformError(beat_remote.explain_failure(adapter, ("toolchains", "list", "--remote"), output))
        if status is None:  # beat.cmdline itself stopped (not a web address, a broken ~/.beatrc): its last line
            raise PlatformError(f"BEAT's command line failed on {url}: {output.strip().splitlines()[-1]}; check "
                                "BEAT_PLATFORM (a web address) and ~/.beatrc")
        words = f"\"{platform_words(status.group(2).strip())}\" ({url})"
        if status.group(1) in ("401", "403"):
            raise Refused(words)
        raise PlatformError(f"the BEAT platform answered HTTP {status.group(1)}: {words}")

    return answered("BEAT", "listed the toolchains", call, timeout + 1, "check BEAT_TOKEN and BEAT_USER (or ~/.beatrc)")


def docker(adapter, timeout=TIMEOUT):
    """The engine's version, and whether the base image is here: a push without it pulls it from a registry."""
    try:
        done = run_cli(["docker", "version", "--format", "{{.Server.Version}}"], timeout)
    except NoAnswer:
        return Online(False, f"the Docker engine did not answer within {timeout:g} s: check it (docker info)")
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no answer"])[-1]
        return Online(False, f"the Docker engine did not answer (\"{said}\"): start it (sudo systemctl start docker, "
                             "or dockerd &) and check that you may use it (docker info)")
    return Online(True, f"works: the engine answers (Docker {done.stdout.strip()}); {adapter.base_image_note()}")
