"""Local: nothing differs from the entry's defaults. The core finds and verifies the data itself."""

PLATFORM = "local"
