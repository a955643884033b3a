-- The lifecycle's records: one row per installation, its revisions, and an audit trail of
-- every workflow step. Written by activities, which run at least once: every write is an
-- idempotent upsert or an insert that ignores a repeat.

CREATE TABLE installations (
    uid            uuid PRIMARY KEY,               -- the ModuleInstallation's metadata.uid
    namespace      text        NOT NULL,           -- the tenant
    name           text        NOT NULL,
    module_id      text        NOT NULL,
    version        text,                           -- the version running, NULL before install
    isolation      text,
    phase          text        NOT NULL,
    revision       integer     NOT NULL DEFAULT 0, -- the active revision
    configuration  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    uninstalled_at timestamptz
);
CREATE INDEX installations_by_tenant ON installations (namespace, module_id);

CREATE TABLE revisions (
    installation_uid   uuid        NOT NULL REFERENCES installations (uid),
    revision           integer     NOT NULL,
    version            text        NOT NULL,
    configuration      jsonb       NOT NULL,
    configuration_hash text        NOT NULL,
    workflow_id        text        NOT NULL,
    applied_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (installation_uid, revision)
);

CREATE TABLE audit_events (
    id               bigserial   PRIMARY KEY,
    installation_uid uuid        NOT NULL,
    namespace        text        NOT NULL,
    name             text        NOT NULL,
    workflow_id      text        NOT NULL,
    action           text        NOT NULL,         -- install, update, rollback, uninstall
    step             text        NOT NULL,         -- resolve, provision, wait-healthy, ...
    outcome          text        NOT NULL,         -- started, succeeded, failed, compensated
    actor            text        NOT NULL,         -- who asked: the last manager of the spec
    detail           text        NOT NULL DEFAULT '',
    at               timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_id, step, outcome)
);
CREATE INDEX audit_by_installation ON audit_events (installation_uid, at);

CREATE TABLE backups (
    workflow_id      text        PRIMARY KEY,      -- one backup per uninstall workflow
    installation_uid uuid        NOT NULL,
    namespace        text        NOT NULL,
    name             text        NOT NULL,
    contents         jsonb       NOT NULL,         -- configuration and revision history
    taken_at         timestamptz NOT NULL DEFAULT now()
);
