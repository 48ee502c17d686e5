-- The tenant's category catalogue: what citizens pick from (Open311's
-- services). Seeded from the categories seen in imported history and edited
-- by the admin; `path` is a JSON array of levels, `names` a JSON object of
-- display names by language.
CREATE TABLE categories (
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    code TEXT NOT NULL,
    path TEXT NOT NULL,
    names TEXT NOT NULL,
    active BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, code)
);
