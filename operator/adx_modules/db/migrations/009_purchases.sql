-- Purchases and entitlements. A purchase is one Temporal workflow (marketplace/workflows): its
-- row says where it stands; an entitlement is what a confirmed purchase grants a tenant (the
-- install and update workflows check it for a paid module). No card data is ever stored: the
-- provider keeps it, we keep its reference.
CREATE TABLE market_purchases (
    id              text        PRIMARY KEY,            -- derived from tenant + idempotency key
    idempotency_key text        NOT NULL,
    tenant          text        NOT NULL,               -- the tenant's namespace
    user_id         text        NOT NULL,
    listing         text        NOT NULL,               -- the MarketplaceListing's name
    module_id       text        NOT NULL,
    amount          numeric(12, 2) NOT NULL CHECK (amount > 0),
    currency        text        NOT NULL,
    provider        text        NOT NULL,               -- stripe | manual
    provider_ref    text,                               -- the provider's payment id
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'paid', 'failed', 'refunded')),
    detail          text        NOT NULL DEFAULT '',    -- why it failed, who approved, ...
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX market_purchases_tenant ON market_purchases (tenant, created_at DESC);
CREATE UNIQUE INDEX market_purchases_provider_ref ON market_purchases (provider, provider_ref);

CREATE TABLE market_entitlements (
    purchase_id   text        PRIMARY KEY REFERENCES market_purchases (id),
    tenant        text        NOT NULL,
    module_id     text        NOT NULL,
    granted_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    revoke_reason text
);
CREATE INDEX market_entitlements_holder ON market_entitlements (tenant, module_id)
    WHERE revoked_at IS NULL;
