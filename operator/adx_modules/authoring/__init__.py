"""Tools for module authors (``adx-module-cli``): resolve today; init, validate, package and
publish land here next."""
