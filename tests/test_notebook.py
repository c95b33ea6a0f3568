"""The Python API for notebooks (derive/notebook.py, issue 15): every format is the
command line's, byte for byte; errors are the command line's located messages; and the
example notebook in docs/ runs clean in a real Jupyter kernel (nbclient)."""
from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

import derive
from cli import main
from renderers import require

ROOT = Path(__file__).resolve().parent.parent
Q2 = ROOT / "problems" / "q2.yaml"


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("problem", ["q2.yaml", "seed000_batch.yaml", "cnn_example.yaml"])
def test_every_format_is_the_command_lines(problem: str) -> None:
    path = ROOT / "problems" / problem
    text = path.read_text(encoding="utf-8")
    key = derive.solve_text(text, name=str(path))
    assert key.markdown() == cli("solve", str(path)) == key._repr_markdown_()
    assert key.latex() == cli("solve", str(path), "-f", "tex")
    assert key.json() == cli("solve", str(path), "-f", "json")
    sheet = derive.worksheet_text(text, name=str(path))
    assert sheet.markdown() == cli("worksheet", str(path))
    # a dict is the same spec
    assert derive.solve_dict(yaml.safe_load(text)).json() == key.json()


def test_options_are_the_command_lines() -> None:
    text = Q2.read_text(encoding="utf-8")
    key = derive.solve_text(text, digits=6, rounding="by-hand", form="delta")
    assert key.markdown() == cli("solve", str(Q2), "--digits", "6", "--rounding", "by-hand",
                                 "--form", "delta").replace(str(Q2), "<spec>")


def test_errors_are_spec_errors_with_the_clis_located_messages(tmp_path: Path) -> None:
    bad = Q2.read_text(encoding="utf-8").replace("activation: relu", "activation: rectifier")
    path = tmp_path / "bad.yaml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(derive.SpecError) as caught:
        derive.solve_text(bad, name=str(path))
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"derive: error: {caught.value}"
    assert f"{path}:" in str(caught.value) and "rectifier" in str(caught.value)
    with pytest.raises(derive.SpecError):
        derive.solve_dict({"title": "no layers", "inputs": {"x1": 1}})
    with pytest.raises(TypeError):
        derive.solve_dict("title: a string")  # type: ignore[arg-type]
    with pytest.raises(derive.DeriveError, match="no JSON form"):
        derive.worksheet_text(Q2.read_text(encoding="utf-8")).json()


def test_pdf_is_a_pdf() -> None:
    require("latexmk")
    assert derive.solve_text(Q2.read_text(encoding="utf-8")).pdf().startswith(b"%PDF")


def test_the_example_notebook_runs_clean_in_a_real_kernel() -> None:
    if importlib.util.find_spec("nbclient") is None:  # installed with .[test]
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("nbclient is not installed (pip install '.[test]')", pytrace=False)
        pytest.skip("nbclient is not installed (pip install '.[test]')")
    import nbclient
    import nbformat
    notebook = nbformat.read(ROOT / "docs" / "notebook.ipynb", as_version=4)
    assert not any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # kept clean
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT / "docs")}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = [o["data"]["text/markdown"] for o in outputs if "text/markdown" in o.get("data", {})]
    assert len(shown) == 2 and shown[0].startswith("# Question 2") and "## Tasks" in shown[1]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert "q2.yaml:" in printed and "unknown activation 'rectifier'" in printed
    assert json.dumps(notebook.cells[0].source)  # the notebook is still valid JSON text
