-- When the operator suspended a tenant (NULL: active). A suspended tenant's
-- keys are refused (403); its data stays.
ALTER TABLE tenants ADD COLUMN suspended_at BIGINT;
