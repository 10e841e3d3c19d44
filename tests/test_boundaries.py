"""The layering rules, machine-checked: the engine never imports Qt; the UI process never
imports torch or audiocraft (they load in the worker process only)."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QT = ("PySide6", "PyQt5", "PyQt6", "shiboken6")
TORCH = ("torch", "torchaudio", "audiocraft", "xformers")
# Engine modules that load torch: the worker imports them, the desktop never may.
WORKER_ONLY = ("engine.generation", "engine.tiny_models")


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module if node.level == 0 else f"{path.parent.name}.{node.module}"
            found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return found


def offending(package: str, banned: tuple[str, ...]) -> dict[str, set[str]]:
    bad = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        hits = {m for m in imports(path) if any(m == b or m.startswith(b + ".") for b in banned)}
        if hits:
            bad[str(path.relative_to(ROOT))] = hits
    return bad


def test_engine_never_imports_qt():
    assert offending("engine", QT) == {}


def test_desktop_never_imports_torch_or_worker_only_modules():
    assert offending("desktop", TORCH + WORKER_ONLY) == {}


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
window.store.added.connect(lambda job, cues: (done.append(cues), app.quit()))
QTimer.singleShot(180_000, app.quit)
app.exec()
window.close()
heavy = sorted(m for m in sys.modules if m.split(".")[0] in {TORCH!r})
print("generated", len(done[0]) if done else 0, "heavy", heavy)
"""


def test_ui_process_runs_a_generation_without_importing_torch():
    script = UI_PROCESS.replace("{TORCH!r}", repr(set(TORCH)))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=240, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("generated 1 heavy []"), done.stdout + done.stderr


def test_engine_side_imports_no_qt_at_run_time():
    script = ("import sys, engine.generation, engine.worker, engine.cli, engine.player; "
              f"print(sorted(m for m in sys.modules if m.split('.')[0] in {set(QT)!r}))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
