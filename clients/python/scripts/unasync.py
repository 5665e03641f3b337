"""Generate the synchronous client from the asynchronous one, in the manner of httpcore's
unasync: each source with a table of tokens replaced, then laid out by ruff like any file.

Every module of the package named ``async_*.py`` or ``_async_*.py`` is a source, and the
module of the same name without ``async_`` is generated from it (``async_client.py`` makes
``client.py``). A generated module whose source is gone is removed, or with ``--check``
reported.

    python clients/python/scripts/unasync.py          # rewrite the generated files
    python clients/python/scripts/unasync.py --check  # exit 1 with a diff if one is stale
"""

from __future__ import annotations

import argparse
import difflib
import re
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "evcharging_client"
COMMAND = "python clients/python/scripts/unasync.py"
# A source module's name; its generated twin's is the same without "async_".
SOURCE = re.compile(r"^(_?)async_(\w+\.py)$")

# Applied in this order to the whole text; each must match somewhere, or it is stale.
RULES: list[tuple[str, str]] = [
    (r"\bStopAsyncIteration\b", "StopIteration"),
    # AsyncEVChargingClient, AsyncEventStream, AsyncIterator, httpx.AsyncClient, ...
    (r"\bAsync(?=[A-Z])", ""),
    # one source importing another: evcharging_client._async_transport, .async_admin, ...
    (r"\bevcharging_client\.(_?)async_", r"evcharging_client.\1"),
    (r"\basync (def|with|for)\b", r"\1"),
    (r"\bawait ", ""),
    (r"\b__a(enter|exit|iter|next)__\b", r"__\1__"),
    (r"\banext\(", "next("),
    # httpx's awaitable twins: response.aread(), aiter_lines(), client.aclose()
    (r"\ba(close|read|iter_lines)\b", r"\1"),
    # "asynchronously" and "asynchronous" in docstrings
    (r"\basynchronous", "synchronous"),
    (r"^import asyncio$", "import time"),
    (r"\basyncio\.sleep\b", "time.sleep"),
]

GENERATED = "# Generated from "  # how a generated module begins
HEADER = (
    GENERATED + "{source} by `{command}`: do not edit.\n"
    "# Change {source} and run that command; a test fails while this file differs.\n"
)


def pairs(package: Path) -> list[tuple[str, str]]:
    """Each source module of ``package`` and the module generated from it, by file name."""
    return [
        (path.name, SOURCE.sub(r"\1\2", path.name))
        for path in sorted(package.glob("*.py"))
        if SOURCE.match(path.name)
    ]


def orphans(package: Path, targets: set[str]) -> list[str]:
    """Generated modules no source generates any more: left behind by a rename or a merge."""
    return [
        path.name
        for path in sorted(package.glob("*.py"))
        if path.name not in targets and path.read_text().startswith(GENERATED)
    ]


def unasync(text: str) -> str:
    """``text`` with every rule applied: asynchronous code made synchronous."""
    for pattern, replacement in RULES:
        text = re.sub(pattern, replacement, text, flags=re.MULTILINE)
    return text


def stale_rules(sources: list[str]) -> list[str]:
    """The patterns that match none of the sources: a rename left them behind."""
    return [
        pattern
        for pattern, _ in RULES
        if not any(re.search(pattern, text, flags=re.MULTILINE) for text in sources)
    ]


def _ruff(*args: str, text: str, path: Path) -> str:
    """``text`` through ruff with the settings it would use for the file at ``path``."""
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--stdin-filename", str(path), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"ruff {args[0]} failed on the generated {path.name}:\n{done.stderr}")
    return done.stdout


def generate(source: Path, target: Path) -> str:
    """What ``target`` must hold: ``source`` converted, its imports sorted and formatted.

    Ruff lays it out because a shorter line may now fit where the source had to wrap, and
    ``AsyncIterator`` sorts before ``Callable`` where ``Iterator`` sorts after it.
    """
    text = HEADER.format(source=source.name, command=COMMAND) + unasync(source.read_text())
    text = _ruff("check", "--fix", "--select", "I", text=text, path=target)
    return _ruff("format", text=text, path=target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the synchronous client.")
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 with a diff if stale"
    )
    args = parser.parse_args(argv)
    files = pairs(PACKAGE)
    stale = stale_rules([(PACKAGE / source).read_text() for source, _ in files])
    if stale:
        print(f"rules that match nothing (remove them): {stale}", file=sys.stderr)
        return 1
    outdated = 0
    for orphan in orphans(PACKAGE, {target for _, target in files}):
        if not args.check:
            (PACKAGE / orphan).unlink()
            print(f"removed {orphan}: no async_ module generates it")
            continue
        outdated += 1
        print(
            f"{orphan} is generated, but no async_ module generates it: remove it", file=sys.stderr
        )
    for source_name, target_name in files:
        target = PACKAGE / target_name
        expected = generate(PACKAGE / source_name, target)
        actual = target.read_text() if target.exists() else ""
        if actual == expected:
            continue
        if not args.check:
            target.write_text(expected)
            print(f"wrote {target_name} from {source_name}")
            continue
        outdated += 1
        sys.stdout.writelines(
            difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                f"{target_name} (checked in)",
                f"{target_name} (generated from {source_name})",
            )
        )
        print(
            f"{target_name} is not what {source_name} generates: change {source_name}, "
            f"then run `{COMMAND}`",
            file=sys.stderr,
        )
    return 1 if outdated else 0


if __name__ == "__main__":
    sys.exit(main())
