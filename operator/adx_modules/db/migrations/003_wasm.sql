-- The WASM host's state. The worker's sandbox activities write it; every host replica reads it
-- (at start, on an admin call, and every few seconds), so a host that restarts loses nothing.

-- Module binaries by digest: fetched once by the worker from the registry (or a checked URL or
-- ConfigMap), shared by every installation that runs them.
CREATE TABLE wasm_modules (
    digest    text        PRIMARY KEY,   -- sha256:<hex> of the .wasm bytes
    content   bytea       NOT NULL,
    stored_at timestamptz NOT NULL DEFAULT now()
);

-- One row per installation with isolation wasm.
CREATE TABLE wasm_installations (
    namespace        text        NOT NULL,
    name             text        NOT NULL,
    uid              uuid        NOT NULL,     -- the ModuleInstallation's metadata.uid
    desired_revision integer     NOT NULL,     -- the last revision provisioned
    serving_revision integer,                  -- the revision that answers (NULL: none yet)
    active           boolean     NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (namespace, name)
);

-- Each provisioned revision: what runs and with what rights.
CREATE TABLE wasm_revisions (
    namespace     text    NOT NULL,
    name          text    NOT NULL,
    revision      integer NOT NULL,
    module_id     text    NOT NULL,
    version       text    NOT NULL,
    digest        text    NOT NULL REFERENCES wasm_modules (digest),
    functions     jsonb   NOT NULL,            -- the invocable names (extensionPoints)
    permissions   jsonb   NOT NULL,            -- declared by the module and approved by the tenant
    configuration jsonb   NOT NULL,
    limits        jsonb   NOT NULL,            -- fuel, deadline, memory, message sizes
    PRIMARY KEY (namespace, name, revision),
    FOREIGN KEY (namespace, name) REFERENCES wasm_installations ON DELETE CASCADE
);

-- adx.storage_*: key-value per installation, within a quota.
CREATE TABLE wasm_storage (
    installation_uid uuid  NOT NULL,
    key              text  NOT NULL,
    value            bytea NOT NULL,
    PRIMARY KEY (installation_uid, key)
);

-- adx.event_emit: events a module published (the event bus of the runners reads them too).
CREATE TABLE module_events (
    id               bigserial   PRIMARY KEY,
    installation_uid uuid        NOT NULL,
    namespace        text        NOT NULL,
    name             text        NOT NULL,
    topic            text        NOT NULL,
    payload          jsonb       NOT NULL,
    emitted_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX module_events_by_topic ON module_events (namespace, topic, id);

-- Host calls a module made without the permission: refused, and kept here.
CREATE TABLE capability_denials (
    id               bigserial   PRIMARY KEY,
    installation_uid uuid        NOT NULL,
    namespace        text        NOT NULL,
    name             text        NOT NULL,
    call             text        NOT NULL,     -- storage_put, http_fetch, ...
    needed           text        NOT NULL,     -- the permission it would take
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX capability_denials_by_installation ON capability_denials (namespace, name, at);
