"""Write ``docs/cli.md`` from the parser of the ``xmaco`` command, so the page cannot drift.

The page is generated, never edited by hand: every subcommand and option comes from
``xmaco.cli.build_parser()``. ``tests/test_docs.py`` and the mkdocs hook (``hooks.py``) both
fail when the committed page differs from what this script writes.

Usage::

    python docs/scripts/cli_reference.py          # rewrite docs/cli.md
    python docs/scripts/cli_reference.py --check  # exit 1 if docs/cli.md is stale
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "cli.md"
_WIDTH = 76

_INTRO = """\
# Command line

<!-- Generated from xmaco.cli.build_parser() by docs/scripts/cli_reference.py; do not edit.
     Regenerate with: python docs/scripts/cli_reference.py -->

Installing xmaco puts an `xmaco` command on the path (`python -m xmaco.cli` does the same).
This page is generated from the command's own argument parser, so it lists exactly the
subcommands and options of the installed version; `xmaco --help` and
`xmaco SUBCOMMAND --help` print the same text in a terminal.
"""


def render(parser: argparse.ArgumentParser | None = None) -> str:
    """The whole Markdown page for ``parser`` (default: ``xmaco.cli.build_parser()``).

    Example
    -------
    >>> demo = argparse.ArgumentParser(prog="demo", description="A demo.")
    >>> _ = demo.add_argument("--steps", type=int, default=8, help="optimisation steps")
    >>> print(render(demo).split("## `demo`")[1].strip().splitlines()[-1])
    | `--steps STEPS` | `8` | optimisation steps |
    """
    if parser is None:
        from xmaco.cli import build_parser

        parser = build_parser()
    sections = [_INTRO]
    subcommands = _subcommands(parser)
    if subcommands:
        sections.append(_index(parser, subcommands))
    sections.append(_section(parser, parser.prog))
    for name, (subparser, _) in subcommands.items():
        sections.append(_section(subparser, f"{parser.prog} {name}"))
    return "\n".join(sections).rstrip() + "\n"


def _subcommands(
    parser: argparse.ArgumentParser,
) -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """Subcommand name -> (its parser, its one-line help), in declaration order; aliases
    (several names for one parser) are listed once, under their first name."""
    found: dict[str, tuple[argparse.ArgumentParser, str]] = {}
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        seen: set[int] = set()
        for name, subparser in action.choices.items():
            if id(subparser) in seen:
                continue
            seen.add(id(subparser))
            found[name] = (subparser, helps.get(name, ""))
    return found


def _index(parser: argparse.ArgumentParser, subcommands: dict) -> str:
    lines = ["## Subcommands", "", "| Subcommand | What it does |", "|---|---|"]
    for name, (_, summary) in subcommands.items():
        anchor = _anchor(f"{parser.prog} {name}")
        lines.append(f"| [`{parser.prog} {name}`](#{anchor}) | {_cell(summary)} |")
    return "\n".join(lines) + "\n"


def _section(parser: argparse.ArgumentParser, title: str) -> str:
    lines = [f"## `{title}`", ""]
    if parser.description:
        lines += [_paragraph(parser.description), ""]
    lines += ["```text", _usage(parser), "```", ""]
    rows = [_row(parser, action) for action in parser._actions if _documented(action)]
    if rows:
        lines += ["| Argument | Default | Description |", "|---|---|---|", *rows, ""]
    if parser.epilog:
        if issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter):
            # Laid out by hand (examples, one per line): kept as it is.
            lines += ["```text", parser.epilog.strip("\n"), "```", ""]
        else:
            lines += [_paragraph(parser.epilog), ""]
    return "\n".join(lines)


def _documented(action: argparse.Action) -> bool:
    return action.help is not argparse.SUPPRESS and not isinstance(
        action, (argparse._HelpAction, argparse._SubParsersAction)
    )


def _formatter(parser: argparse.ArgumentParser) -> argparse.HelpFormatter:
    # A fixed width: the page must not depend on the terminal that generated it.
    return parser.formatter_class(prog=parser.prog, width=_WIDTH)


def _usage(parser: argparse.ArgumentParser) -> str:
    formatter = _formatter(parser)
    formatter.add_usage(parser.usage, parser._actions, parser._mutually_exclusive_groups)
    return formatter.format_help().strip()


def _row(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    default = _default(action)
    text = _help(parser, action)
    if default.startswith("`"):
        # The Default column already says it.
        text = text.replace(f" (default: {default.strip('`')})", "")
    return f"| {_invocation(action)} | {default} | {_cell(text)} |"


def _invocation(action: argparse.Action) -> str:
    if not action.option_strings:
        return f"`{action.metavar or action.dest}`"
    metavar = _metavar(action)
    forms = [f"{flag} {metavar}".rstrip() for flag in action.option_strings]
    return ", ".join(f"`{form}`" for form in forms)


def _metavar(action: argparse.Action) -> str:
    if action.nargs == 0:
        return ""
    if isinstance(action.metavar, tuple):
        return " ".join(action.metavar)
    if action.metavar is not None:
        name = action.metavar
    elif action.choices is not None:
        name = "{" + ",".join(str(choice) for choice in action.choices) + "}"
    else:
        name = action.dest.upper()
    if action.nargs == "?":
        return f"[{name}]"
    if action.nargs == "*":
        return f"[{name} ...]"
    if action.nargs == "+":
        return f"{name} [{name} ...]"
    if isinstance(action.nargs, int) and action.nargs > 1:
        return " ".join([name] * action.nargs)
    return name


def _default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    default = action.default
    if default is None or default is argparse.SUPPRESS or action.nargs == 0:
        return ""
    if isinstance(default, (list, tuple)):
        default = " ".join(str(item) for item in default)
    return f"`{default}`"


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    text = _formatter(parser)._expand_help(action) if action.help else ""
    if action.choices is not None and action.metavar is not None:
        text += f" (one of: {', '.join(f'`{choice}`' for choice in action.choices)})"
    return text


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _paragraph(text: str) -> str:
    return "\n\n".join(" ".join(block.split()) for block in text.strip().split("\n\n"))


def _anchor(title: str) -> str:
    """The id Python-Markdown's toc extension gives the heading ``title``."""
    from markdown.extensions.toc import slugify

    return slugify(title, "-")


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description="Write docs/cli.md from xmaco's parser.")
    options.add_argument("--check", action="store_true", help="fail if docs/cli.md is stale")
    args = options.parse_args(argv)
    text = render()
    if args.check:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is out of date; run: python docs/scripts/cli_reference.py")
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
