"""What the tests share: real corpora, real warehouses (built through the real loader) and
small platform settings. `tests/conftest.py` puts `tests/` on sys.path, so every tier imports
`support.<module>`."""
