"""A platform's options: how it packages and runs a run (not part of the experiment, so not in its
config or hashes). Each adapter declares its own; a value comes from, in order, the command line or
a config file's `platform_options:` (passed to the adapter's constructor), the variable
PORTABILITY_<PLATFORM>_<NAME>, or the default. Variables are read here and nowhere else."""

import dataclasses
import os

from core.errors import UsageError

TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


@dataclasses.dataclass(frozen=True)
class Option:
    """One option of a platform. `flag` adds it to the package/emulate/push commands; `boolean` makes
    that flag a switch."""

    name: str
    default: object = None
    help: str = ""
    flag: str | None = None
    choices: tuple = ()
    boolean: bool = False
    label: str = ""  # how messages name it (default: its name in words)

    def variable(self, platform):
        return f"PORTABILITY_{platform.upper()}_{self.name.upper()}"


def resolve(platform, declared, given, title=None):
    """{name: value} for every declared option; UsageError for an unknown or invalid one."""
    known = {option.name: option for option in declared}
    unknown = sorted(set(given) - set(known))
    if unknown:
        valid = ", ".join(f"{platform}.{name}" for name in known) or "none"
        raise UsageError(f"unknown {platform} option {unknown[0]!r}: valid ones are {valid}")
    values = {}
    for name, option in known.items():
        value = given.get(name)
        source = "option"
        if value is None and os.environ.get(option.variable(platform)) is not None:
            value, source = os.environ[option.variable(platform)], option.variable(platform)
        values[name] = option.default if value is None else _checked(title or platform.capitalize(), platform, option, value, source)
    return values


def _checked(title, platform, option, value, source):
    if option.boolean:
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in TRUE + FALSE:
            return str(value).strip().lower() in TRUE
        raise UsageError(f"{platform}.{option.name} is true or false, got {value!r}"
                         + (f" (from {source})" if source != "option" else ""))
    value = str(value)
    if option.choices and value not in option.choices:
        label = option.label or option.name.replace("_", " ")
        raise UsageError(f"unknown {title} {label} {value!r}: valid ones are {', '.join(option.choices)}"
                         + (f" (from {source})" if source != "option" else ""))
    return value
