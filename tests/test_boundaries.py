"""The layering rules, machine-checked: the engine never imports Qt; only engine/worker/
imports torch and audiocraft, the desktop never imports engine.worker, and the worker never
touches the library (import-linter contracts in pyproject.toml); at run time the UI process
never loads torch (nor librosa and numba, which measuring needs)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")
TORCH = ("torch", "torchaudio", "audiocraft", "xformers")
LINT = Path(sys.executable).parent / "lint-imports"


def lint_imports(tree: Path) -> subprocess.CompletedProcess:
    """import-linter over the `engine` and `desktop` packages found in `tree`."""
    return subprocess.run([str(LINT), "--config", str(tree / "pyproject.toml"), "--no-cache"],
                          capture_output=True, text=True, timeout=120, cwd=tree,
                          env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})


def test_the_import_contracts_hold():
    done = lint_imports(ROOT)
    assert done.returncode == 0 and "0 broken" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("package, module, line, contract", [
    ("desktop", "sneaky.py", "import torch", "Only engine.worker imports torch and audiocraft"),
    ("desktop", "sneaky.py", "from engine.worker import generation", "The desktop never imports the torch side"),
    ("engine", "sneaky.py", "import audiocraft", "Only engine.worker imports torch and audiocraft"),
    ("engine", "sneaky.py", "from PySide6 import QtCore", "The engine never imports Qt"),
    ("engine/worker", "sneaky.py", "from engine.library import Library", "The engine worker never touches the library (its client writes it)"),
])
def test_a_module_that_breaks_a_contract_is_caught(tmp_path, package, module, line, contract):
    for name in ("engine", "desktop"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / package / module).write_text(line + "\n")
    done = lint_imports(tmp_path)
    assert done.returncode == 1 and f"{contract} BROKEN" in done.stdout, done.stdout + done.stderr
    assert f"{package.replace('/', '.')}.sneaky" in done.stdout


UI_PROCESS = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from desktop.main_window import MainWindow
from desktop.settings import open_settings

app = QApplication([])
window = MainWindow(open_settings())
window.show()
window.prompt.prompt.setPlainText("boundary check")
window.prompt.candidates.setValue(1)
window.prompt.duration.setValue(0.5)
window.generate()
done = []
window.engine.finished.connect(lambda job, cues: (done.append(cues), app.quit()))
QTimer.singleShot(180_000, app.quit)
app.exec()
window.close()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {TORCH!r})
print("generated", len(done[0]) if done else 0, "heavy", heavy)
"""


def test_ui_process_runs_a_generation_without_importing_torch():
    # nor librosa and numba: cues are measured in the worker, older ones in a child process
    script = UI_PROCESS.replace("{TORCH!r}", repr({*TORCH, "librosa", "numba"}))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("generated 1 heavy []"), done.stdout + done.stderr


def test_engine_side_imports_no_qt_at_run_time():
    script = ("import sys, engine.worker.generation, engine.worker, engine.cli, engine.player; "
              f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(QT)!r}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
