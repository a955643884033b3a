"""SQL migrations of the service's PostgreSQL schema, applied in order under an advisory lock
by :meth:`adx_modules.clients.postgres.Store.migrate`."""
