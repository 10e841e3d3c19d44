"""`python -m engine.worker`: the engine worker process (see serve.py)."""

from .serve import main

main()
