-- Confirmed cases near a point (same building or yard): routing asks for them
-- on every appeal with coordinates, by a latitude band within the tenant.
CREATE INDEX appeals_tenant_lat ON appeals (tenant_id, lat);
