-- A module's own database: a schema and a login role of each installation's own
-- (mod_<uid hex>), made by the worker when the module ships migrations. The password is the
-- runner's and the worker's, never the module's: the module's SQL reaches it through sdk.db.
CREATE TABLE module_databases (
    installation_uid uuid        PRIMARY KEY,
    namespace        text        NOT NULL,
    name             text        NOT NULL,
    role             text        NOT NULL UNIQUE,   -- and the schema's name
    password         text        NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
