-- The address an appeal names, as a key two spellings of one building share
-- (`triage_domain::address`: street and house, from the portal's address or
-- the text). Where an appeal has no coordinates, its building's history is
-- found by it. Appeals stored before this version have none.
ALTER TABLE appeals ADD COLUMN address_key TEXT;
CREATE INDEX appeals_address_key ON appeals (tenant_id, address_key);
