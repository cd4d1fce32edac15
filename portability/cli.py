"""`portability`: one Keras experiment, every platform, the same answer. The root command composes
each area's command group; this is the installed console entry point."""

import argparse
import sys

from core.errors import UserError
from portability import comparison_commands, experiment_commands, platform_commands, sweep_commands
from portability.console import say

GROUPS = (experiment_commands, platform_commands, sweep_commands, comparison_commands)


def build_parser():
    parser = argparse.ArgumentParser(prog="portability", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in GROUPS:
        group.add_commands(commands)
    for each in _parsers(parser):
        each.allow_abbrev = False  # `--epoch 1` must not be taken as --epochs
    return parser


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    rest = []
    if "--" in argv:  # what follows goes to the user's own script, untouched
        argv, rest = argv[:argv.index("--")], argv[argv.index("--") + 1:]
    args = build_parser().parse_args(argv)
    args.script_args = rest
    try:
        return args.handler(args)
    except UserError as error:
        say(f"error: {error}")
        return error.exit_code
    except BrokenPipeError:  # the reader stopped early (`| head`): not an error to report
        sys.stdout = None
        return 141
    except OSError as error:  # a path that cannot be read or written: the user's to fix
        where = f"{error.filename}: " if error.filename else ""
        say(f"error: {where}{error.strerror or error}; check that the path exists and can be written")
        return 1
    except KeyboardInterrupt:
        say("interrupted: nothing incomplete is kept as a result; `portability status` lists the run")
        return 130


def _parsers(parser):
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


if __name__ == "__main__":
    sys.exit(main())
