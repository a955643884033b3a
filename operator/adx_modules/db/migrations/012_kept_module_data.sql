-- Module data kept past an uninstall (spec.uninstall.cleanupData: false), by the tenant's name
-- for it: the next installation of that name running the same module takes it over
-- (sandboxes/kept.py). One set per name.
CREATE TABLE kept_module_data (
    namespace text        NOT NULL,
    name      text        NOT NULL,
    uid       uuid        NOT NULL,     -- the uninstalled installation the data is keyed by
    module_id text        NOT NULL,
    kept_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name)
);

-- An installation's trail by its name, which outlives its uid: the HTTP API answers an
-- uninstall's status from it once the object is gone.
CREATE INDEX audit_by_name ON audit_events (namespace, name, at);

-- What a module uses, as its host last saw it (sandboxes/reporting.py): the API's
-- /api/v1/modules/{instance_id}/resources.
CREATE TABLE module_usage (
    installation_uid uuid        PRIMARY KEY,
    namespace        text        NOT NULL,
    name             text        NOT NULL,
    isolation        text        NOT NULL,
    usage            jsonb       NOT NULL,
    observed_at      timestamptz NOT NULL DEFAULT now()
);
