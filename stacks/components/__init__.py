"""One ComponentResource per concern of a country's inference cluster (see each module's docstring)."""
