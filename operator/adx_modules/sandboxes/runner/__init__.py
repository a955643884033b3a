"""The module runner: Python modules in confined processes (isolation ``process``)."""
