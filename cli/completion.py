"""Shell completion: ``shipdeck completion bash|zsh|fish`` prints a script, and the
script asks ``shipdeck __complete words CWORD WORD...`` what completes the word under
the cursor. One function (:func:`candidates`) decides for every shell, from the same
parser ``--help`` is made of; item ids come from the board and environment names from
shipdeck.yaml, read directly: no engine, no config validation, no network.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from shipdeck.project.errors import EXIT_OK, EXIT_USAGE

STAGES = ("plan", "code", "build", "test", "release", "deploy", "operate", "monitor")

# What a value is, by the argparse dest that holds it.
_POSITIONAL_KINDS = {"id": "ids", "env": "envs", "stage": "stages", "path": "dirs"}
_OPTION_KINDS = {"env": "envs", "to": "stages", "stage": "stages", "chdir": "dirs"}

BASH = """\
# shipdeck completion for bash; in ~/.bashrc: source <(shipdeck completion bash)
_shipdeck() {
    local IFS=$'\\n'
    COMPREPLY=($(shipdeck __complete words "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null))
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == */ ]]; then
        compopt -o nospace 2>/dev/null
    fi
}
complete -F _shipdeck shipdeck
"""

ZSH = """\
#compdef shipdeck
# shipdeck completion for zsh; in ~/.zshrc (after compinit): source <(shipdeck completion zsh)
_shipdeck() {
    local -a found
    found=(${(f)"$(shipdeck __complete words $((CURRENT - 1)) "${words[@]}" 2>/dev/null)"})
    (( ${#found} )) && compadd -S '' -Q -- ${found[@]:#*[^/]} && compadd -Q -- ${found[@]:#*/}
}
if (( $+functions[compdef] )); then
    compdef _shipdeck shipdeck
fi
"""

FISH = """\
# shipdeck completion for fish:
#   shipdeck completion fish > ~/.config/fish/completions/shipdeck.fish
function __shipdeck_complete
    set -l words (commandline -opc)
    shipdeck __complete words (count $words) $words (commandline -ct) 2>/dev/null
end
complete -c shipdeck -f -a '(__shipdeck_complete)'
"""

SCRIPTS = {"bash": BASH, "zsh": ZSH, "fish": FISH}


def completion(args: argparse.Namespace) -> int:
    sys.stdout.write(SCRIPTS[args.shell])
    return EXIT_OK


def complete(argv: list[str], build_parser: Callable[[], argparse.ArgumentParser]) -> int:
    """``shipdeck __complete items|envs|stages`` or ``__complete words CWORD WORD...``:
    one candidate a line. Never an error a shell would show: a failure completes nothing."""
    what, rest = (argv[0], argv[1:]) if argv else ("", [])
    try:
        if what == "words" and rest:
            found = candidates(build_parser(), rest[1:], int(rest[0]))
        elif what in ("items", "envs", "stages"):
            found = _values({"items": "ids"}.get(what, what), "")
        else:
            sys.stderr.write("usage: shipdeck __complete items|envs|stages|words CWORD WORD...\n")
            return EXIT_USAGE
    except Exception:  # noqa: BLE001 - completion never shows a traceback in a prompt
        found = []
    if found:
        sys.stdout.write("\n".join(found) + "\n")
    return EXIT_OK


def _takes_value(action: argparse.Action) -> bool:
    return action.nargs != 0


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:  # type: ignore[type-arg]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _option(parser: argparse.ArgumentParser, word: str) -> argparse.Action | None:
    return parser._option_string_actions.get(word.split("=", 1)[0])


def candidates(parser: argparse.ArgumentParser, words: list[str], cword: int) -> list[str]:
    """What completes ``words[cword]`` (``words[0]`` is the command's name), from the
    shipdeck command's ``parser``."""
    cur = words[cword] if cword < len(words) else ""
    chosen_sub = False  # whether the parser's subcommand (if it has one) is named
    npos = 0
    i = 1
    chdir = None
    while i < cword:
        word = words[i]
        if word.startswith("-") and word != "-":
            action = _option(parser, word)
            if action is not None and _takes_value(action) and "=" not in word:
                if action.dest == "chdir" and i + 1 < cword:
                    chdir = words[i + 1]
                i += 1  # its value
        else:
            sub = _subparsers(parser)
            if sub is not None and not chosen_sub and word in sub.choices:
                parser = sub.choices[word]
                npos = 0
                chosen_sub = _subparsers(parser) is None
            else:
                npos += 1
        i += 1
    root = Path(os.path.expanduser(chdir)) if chdir else Path.cwd()
    prev = words[cword - 1] if 0 < cword - 1 < len(words) else ""
    if prev.startswith("-"):
        action = _option(parser, prev)
        if action is not None and _takes_value(action) and "=" not in prev:
            return _action_values(action, _OPTION_KINDS.get(action.dest, ""), cur, root)
    if cur.startswith("-"):
        options = [o for a in parser._actions for o in a.option_strings if o.startswith("--")]
        options += [o for a in parser._actions for o in a.option_strings if len(o) == 2]
        return sorted({o for o in options if o.startswith(cur)})
    sub = _subparsers(parser)
    if sub is not None and not chosen_sub and npos == 0:
        names = [n for n in sub.choices if not n.startswith("_") and n.startswith(cur)]
        if parser.prog == "shipdeck" and (os.sep in cur or cur.startswith((".", "~"))):
            names += _dirs(cur)  # shipdeck PATH
        return names
    positionals = [a for a in parser._actions if not a.option_strings and a is not sub]
    if npos >= len(positionals):
        return []
    action = positionals[npos]
    return _action_values(action, _POSITIONAL_KINDS.get(action.dest, ""), cur, root)


def _action_values(action: argparse.Action, kind: str, cur: str, root: Path) -> list[str]:
    if action.choices is not None:
        return [str(c) for c in action.choices if str(c).startswith(cur)]
    if kind == "dirs":
        return _dirs(cur)
    return _values(kind, cur, root) if kind else []


def _dirs(cur: str) -> list[str]:
    head, _, tail = cur.rpartition("/")
    base = Path(os.path.expanduser(head or ".")) if head or not cur.startswith("/") else Path("/")
    if cur.startswith("/") and not head:
        base, head = Path("/"), ""
    try:
        names = sorted(p.name for p in base.iterdir() if p.is_dir())
    except OSError:
        return []
    prefix = f"{head}/" if head or cur.startswith("/") else ""
    return [
        f"{prefix}{n}/" for n in names if n.startswith(tail) and (tail or not n.startswith("."))
    ]


def _values(kind: str, cur: str, root: Path | None = None) -> list[str]:
    """Item ids, environment names or stages starting with ``cur``."""
    if kind == "stages":
        return [s for s in STAGES if s.startswith(cur)]
    from shipdeck.project.repo import find_root

    found = find_root(root or Path.cwd())
    if found is None:
        return []
    if kind == "envs":
        return [e for e in _environment_names(found / "shipdeck.yaml") if e.startswith(cur)]
    if kind == "ids":
        return [i for i in _item_ids(found) if i.upper().startswith(cur.upper())]
    return []


def _environment_names(config: Path) -> list[str]:
    """The keys of ``environments:``, read as plain YAML (no validation: a config with
    a mistake elsewhere still completes its environments)."""
    import yaml

    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    envs = data.get("environments") if isinstance(data, dict) else None
    return [str(name) for name in envs] if isinstance(envs, dict) else []


def _item_ids(root: Path) -> list[str]:
    """The ids of the board's active items, oldest first."""
    from shipdeck.backends.git_board import open_board

    return [item.id for item in open_board(root).load().active()]
