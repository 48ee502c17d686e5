-- The category the citizen picked on the portal: a JSON array of levels,
-- general to specific; NULL when none was given. Routing counts confirmed
-- cases per category at start, with the area counts.
ALTER TABLE appeals ADD COLUMN category TEXT;
