-- The module runner's state (isolation process and none), beside the WASM host's. The worker's
-- sandbox activities write it; the runner reads it at start, on an admin call and every few
-- seconds, so a runner that restarts starts the same modules again.

-- Storage is one per installation, whatever runs the module.
ALTER TABLE wasm_storage RENAME TO module_storage;

-- Packages (.adx) by digest: fetched once by the worker, shared by the installations running them.
CREATE TABLE runner_packages (
    digest    text        PRIMARY KEY,   -- sha256:<hex> of the .adx bytes
    content   bytea       NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);

-- One row per installation the runner runs: the revision that should serve and its rights.
CREATE TABLE runner_installations (
    namespace     text        NOT NULL,
    name          text        NOT NULL,
    uid           uuid        NOT NULL,     -- the ModuleInstallation's metadata.uid
    isolation     text        NOT NULL,     -- process | none
    revision      integer     NOT NULL,
    module_id     text        NOT NULL,
    version       text        NOT NULL,
    runtime       text        NOT NULL,     -- python (javascript: its runner's issue)
    digest        text        NOT NULL REFERENCES runner_packages (digest),
    permissions   jsonb       NOT NULL,     -- declared by the module and approved by the tenant
    configuration jsonb       NOT NULL,     -- the spec's
    limits        jsonb       NOT NULL,     -- memory, processes, open files
    active        boolean     NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name)
);

-- config.set of the SDK: what a module set for itself, never written into the spec.
CREATE TABLE module_settings (
    installation_uid uuid  NOT NULL,
    key              text  NOT NULL,
    value            jsonb NOT NULL,
    PRIMARY KEY (installation_uid, key)
);
