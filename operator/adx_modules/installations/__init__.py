"""Feature: a tenant's ModuleInstallations. Handlers (admission, starting workflows) ->
workflows (install, update with rollback, uninstall) -> activities (resolve, dependencies,
records, status reports)."""
