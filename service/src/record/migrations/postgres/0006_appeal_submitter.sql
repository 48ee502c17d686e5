-- Who submitted an appeal through the API (the key's audit actor, `key:<id>`);
-- NULL for imported history. A portal key reads the text of its own
-- submissions only.
ALTER TABLE appeals ADD COLUMN submitted_by TEXT;
