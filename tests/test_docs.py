"""The Python examples of ``docs/structures.md`` and the README's "library in a minute" run as
written (each document's blocks in order, as one program), so the documents cannot drift from
the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.usefixtures("one_thread")

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_the_structures_guide_runs() -> None:
    blocks = python_blocks(ROOT / "docs" / "structures.md")
    assert len(blocks) >= 5
    torch.manual_seed(0)
    exec(compile("\n".join(blocks), "docs/structures.md", "exec"), {})


def test_the_readme_library_minute_runs(capsys: pytest.CaptureFixture[str]) -> None:
    first = python_blocks(ROOT / "README.md")[0]
    assert "rnnkit.LSTM(" in first
    torch.manual_seed(0)
    exec(compile(first, "README.md", "exec"), {})
    assert "LSTM" in capsys.readouterr().out  # the summary it prints


def test_the_modules_the_readme_names_are_attributes_of_the_package() -> None:
    """``rnnkit.export.with_torch_layers(model)`` after ``import rnnkit`` alone raised
    AttributeError (a fresh interpreter: other tests import the modules)."""
    import subprocess
    import sys

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    names = re.findall(r"`rnnkit\.([a-z_]+)\b", text)  # modules and functions alike
    assert {"export", "losses", "plots", "inspect"} <= set(names)
    code = "import rnnkit\n" + "".join(f"rnnkit.{name}\n" for name in sorted(set(names)))
    subprocess.run([sys.executable, "-c", code], check=True)
