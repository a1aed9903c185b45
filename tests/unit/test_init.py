"""`import vlesson` starts nothing: no vLLM, no widgets, no CLI until a name is used."""

from __future__ import annotations


def test_importing_vlesson_loads_neither_vllm_nor_widgets_nor_the_cli():
    import subprocess
    import sys

    code = (
        "import sys, vlesson as vl; vl.get_llm; vl.generate; vl.PARAMS; vl.batch\n"
        "heavy = {'vllm', 'ipywidgets', 'torch', 'fastapi', 'vlesson.cli'}\n"
        "assert not heavy & set(sys.modules), heavy & set(sys.modules)\n"
        "assert callable(vl.generate)  # the function, not the module of that name"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def test_importing_vlesson_does_not_import_vllm():
    import subprocess
    import sys

    code = "import sys, vlesson; vlesson.smart; assert 'vllm' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
