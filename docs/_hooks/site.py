"""mkdocs hooks: the pages generated at build time from the sources they document, so the
site has no second copy that could drift.

- ``reference/api.md``: the API reference, rendered from clients/openapi.json (the gateway's
  own OpenAPI document, kept current by tests/clients/test_openapi_sync.py);
- ``clients/python.md``, ``clients/js.md``: the clients' READMEs;
- ``<!-- evcs:settings -->`` in a page: every EVCS_ setting, from shared.settings.Settings;
- ``<!-- evcs:errors -->``: every error status the API answers, with its example body;
- nav entries of pages other engineers own (benchmarks, reliability) appear once they exist.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from openapi_markdown import error_catalogue, reference  # type: ignore[import-not-found]
from settings_table import settings_table  # type: ignore[import-not-found]

OPTIONAL_PAGES = ("benchmarks.md", "reliability.md")


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def _document(config: MkDocsConfig) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((_root(config) / "clients" / "openapi.json").read_text())
    return document


def _drop_missing(nav: list[Any], docs_dir: Path) -> list[Any]:
    out: list[Any] = []
    for item in nav:
        if isinstance(item, dict):
            [(title, target)] = item.items()
            if isinstance(target, list):
                out.append({title: _drop_missing(target, docs_dir)})
            elif target in OPTIONAL_PAGES and not (docs_dir / target).exists():
                continue
            else:
                out.append(item)
        else:
            out.append(item)
    return out


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    root = _root(config)
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))  # shared.settings, for the settings table
    config.nav = _drop_missing(config.nav or [], Path(config.docs_dir))
    return config


def _readme(path: Path, title: str) -> str:
    text = path.read_text()
    # the README's own title becomes the page's
    lines = text.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return f"# {title}\n" + "\n".join(lines) + "\n"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    root = _root(config)
    generated = {
        "reference/api.md": reference(_document(config)),
        "clients/python.md": _readme(root / "clients/python/README.md", "Python client"),
        "clients/js.md": _readme(root / "clients/js/README.md", "JavaScript / TypeScript client"),
    }
    for uri, content in generated.items():
        files.append(File.generated(config, uri, content=content))
    return files


def _unlink_missing(markdown: str, docs_dir: Path) -> str:
    """Links to an optional page that does not exist yet become plain text."""
    for name in OPTIONAL_PAGES:
        if not (docs_dir / name).exists():
            markdown = re.sub(
                rf"\[([^\]]+)\]\((?:\.\./)*{re.escape(name)}(#[^)]*)?\)", r"\1", markdown
            )
    return markdown


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    markdown = _unlink_missing(markdown, Path(config.docs_dir))
    if "<!-- evcs:settings -->" in markdown:
        markdown = markdown.replace("<!-- evcs:settings -->", settings_table())
    if "<!-- evcs:errors -->" in markdown:
        markdown = markdown.replace("<!-- evcs:errors -->", error_catalogue(_document(config)))
    return markdown
