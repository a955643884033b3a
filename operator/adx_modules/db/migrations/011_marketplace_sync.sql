-- The rounds of the remote marketplace's sync (marketplace/workflows/sync.py): what each did,
-- or why it failed, so a failing remote is visible (the API's /api/v1/marketplace/sync).
CREATE TABLE market_sync (
    id         bigserial   PRIMARY KEY,
    base_url   text        NOT NULL,
    at         timestamptz NOT NULL DEFAULT now(),
    created    integer     NOT NULL DEFAULT 0,
    updated    integer     NOT NULL DEFAULT 0,
    unchanged  integer     NOT NULL DEFAULT 0,
    kept_local text[]      NOT NULL DEFAULT '{}',
    error      text        NOT NULL DEFAULT ''
);
CREATE INDEX market_sync_recent ON market_sync (base_url, id DESC);
