"""README.md's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)          # the examples write files
    namespace = {}
    for block in blocks:                 # later blocks reuse earlier names
        exec(compile(block, str(README), "exec"), namespace)
    assert (tmp_path / "vnet.json").exists()
