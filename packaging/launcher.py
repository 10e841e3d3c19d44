"""The frozen app's one executable. Started as `cuedeck` it is the CLI; as `cuedeck-desktop`
(a link to it) the window; with `--cuedeck-module MODULE` one of CueDeck's helper processes
(the engine worker, transcription, measures: see engine/processes.py)."""

import os
import sys

from engine.processes import run_module_mode

if not run_module_mode(sys.argv[1:]):
    if os.path.basename(sys.argv[0]) == "cuedeck-desktop":
        from desktop.app import main
    else:
        from engine.cli import main
    sys.exit(main())
