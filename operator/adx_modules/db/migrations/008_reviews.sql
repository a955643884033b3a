-- Reviews and ratings of marketplace modules: one per user per tenant per module, from a
-- tenant that has the module installed (marketplace/reviews.py checks it). The aggregates are
-- kept per module in the same transaction as each review, and on the module's listings.
CREATE TABLE market_reviews (
    id         bigserial   PRIMARY KEY,
    module_id  text        NOT NULL,
    tenant     text        NOT NULL,                -- the tenant's namespace
    user_id    text        NOT NULL,
    rating     smallint    NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title      text        NOT NULL DEFAULT '',
    body       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (module_id, tenant, user_id)
);
CREATE INDEX market_reviews_module ON market_reviews (module_id, id DESC);
CREATE INDEX market_reviews_author ON market_reviews (tenant, user_id, created_at);

CREATE TABLE market_ratings (
    module_id    text    PRIMARY KEY,
    rating_sum   bigint  NOT NULL DEFAULT 0,
    rating_count integer NOT NULL DEFAULT 0
);
