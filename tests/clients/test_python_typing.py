"""The Python client type-checks under mypy --strict, as its users' code will check it."""

from __future__ import annotations

import sys

from tests.clients.conftest import CLIENTS, ROOT, run


async def test_the_python_client_is_mypy_strict_clean() -> None:
    package = CLIENTS / "python"
    code, output = await run(
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(package / "pyproject.toml"),
        str(package / "src"),
        cwd=ROOT,
    )
    assert code == 0, output
