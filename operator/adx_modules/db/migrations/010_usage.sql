-- Usage events of the marketplace (when marketplace.enable_analytics is on): a tenant installed a
-- module (its installation became Active) or uninstalled it (the installation was deleted). One
-- event of each kind per installation (a replayed watch event records nothing twice).
-- Recommendations learn from them and from the installations themselves.
CREATE TABLE market_usage (
    id           bigserial   PRIMARY KEY,
    tenant       text        NOT NULL,
    module_id    text        NOT NULL,
    installation uuid        NOT NULL,
    kind         text        NOT NULL CHECK (kind IN ('install', 'uninstall')),
    at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (installation, kind)
);
CREATE INDEX market_usage_tenant ON market_usage (tenant, kind);
CREATE INDEX market_installations_namespace ON market_installations (namespace, module_id);
