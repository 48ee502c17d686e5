-- Categories the tenant marks as not a request (thanks): an appeal filed
-- under one is stored and not sent to a department, and routing learns from
-- the history under them to find such texts without a category.
ALTER TABLE categories ADD COLUMN not_request BIGINT NOT NULL DEFAULT 0;
