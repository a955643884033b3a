"""Feature: the catalog of published Modules. The Module handlers, the catalog model kept
beside the operator's index, the dependency resolver, configuration schemas, and (next)
scanning."""
