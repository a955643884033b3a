-- The marketplace's read model: MarketplaceListings, Module versions and installations as the
-- apiserver has them (the CRs stay the truth; marketplace/projection.py keeps these in step from
-- a watch, and a lost table is rebuilt by the next list). Search reads market_listings only:
-- what it filters and sorts on (latest version, runtime, installs, ratings) is kept on the row.
-- pg_trgm (typo tolerance) is one per database: made in public, or found where a DBA put it;
-- its operator class and functions are named with that schema (search.py looks it up).
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

CREATE TABLE market_listings (
    name           text          PRIMARY KEY,        -- the MarketplaceListing's name
    module_id      text          NOT NULL,
    publisher      text          NOT NULL,
    summary        text          NOT NULL,
    description    text          NOT NULL DEFAULT '',
    categories     text[]        NOT NULL DEFAULT '{}',
    tags           text[]        NOT NULL DEFAULT '{}',
    keywords       text          NOT NULL DEFAULT '', -- tags and categories, for the search vector
    pricing_model  text          NOT NULL,            -- free | one-time | subscription | usage
    price          numeric(12,2),                     -- null: free
    currency       text,
    featured       boolean       NOT NULL DEFAULT false,
    created_at     timestamptz   NOT NULL,
    latest_version text,                              -- the highest Available version
    runtime        text,                              -- of that version
    installs       integer       NOT NULL DEFAULT 0,  -- Active installations of the module
    rating_average real,
    rating_count   integer       NOT NULL DEFAULT 0,
    -- what "popular" means (featured, and relevance without words): installs, and ratings
    -- weighed by how many there are
    popularity     real          GENERATED ALWAYS AS (
        ln(1 + installs) * 2 + coalesce(rating_average, 0) * rating_count / (rating_count + 5.0)
    ) STORED,
    search         tsvector      GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', replace(module_id, '-', ' ')), 'A')
        || setweight(to_tsvector('english', summary || ' ' || keywords), 'B')
        || setweight(to_tsvector('english', description), 'C')
    ) STORED
);
CREATE INDEX market_listings_search ON market_listings USING gin (search);
DO $$
BEGIN
    EXECUTE format(
        'CREATE INDEX market_listings_trigrams ON market_listings USING gin (module_id %I.gin_trgm_ops)',
        (SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'));
END $$;
CREATE INDEX market_listings_module ON market_listings (module_id);
CREATE INDEX market_listings_categories ON market_listings USING gin (categories);
CREATE INDEX market_listings_tags ON market_listings USING gin (tags);
-- each sort order pages through an index (keyset: the sort key, then the name)
CREATE INDEX market_listings_popular ON market_listings (featured DESC, popularity DESC, name);
CREATE INDEX market_listings_by_popularity ON market_listings (popularity DESC, name);
CREATE INDEX market_listings_by_rating ON market_listings ((coalesce(rating_average, 0)) DESC, name);
CREATE INDEX market_listings_by_installs ON market_listings (installs DESC, name);
CREATE INDEX market_listings_by_newest ON market_listings (created_at DESC, name);
CREATE INDEX market_listings_by_price ON market_listings ((coalesce(price, 0)), name);

CREATE TABLE market_modules (
    name       text        PRIMARY KEY,               -- the Module's name
    module_id  text        NOT NULL,
    version    text        NOT NULL,
    runtime    text        NOT NULL,
    phase      text,
    created_at timestamptz NOT NULL
);
CREATE INDEX market_modules_module ON market_modules (module_id);

CREATE TABLE market_installations (
    uid        uuid        PRIMARY KEY,
    namespace  text        NOT NULL,
    module_id  text        NOT NULL,
    phase      text
);
CREATE INDEX market_installations_module ON market_installations (module_id);
