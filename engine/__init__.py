"""CueDeck's engine: everything that is not Qt.

Modules that the UI process imports (registry, request, protocol, client, library, ucs,
paths, errors) stay free of torch and audiocraft; only the worker's generation code loads them.
"""

__version__ = "0.1.0"
