"""CueDeck's Qt desktop app. Never imports torch or audiocraft: the engine runs in a worker."""
