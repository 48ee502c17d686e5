//! A building's history in the record: confirmed cases near a point, or
//! naming an address, for the same-spot and nearby-cases signals.

use sqlx::Row;

use super::{NearbyCase, Record, Result};

impl Record {
    /// Confirmed (imported or decided) appeals of a tenant within `radius_m`
    /// metres of a point, received before `before` when given, newest first,
    /// at most `limit`.
    pub async fn nearby_confirmed(
        &self,
        tenant: &str,
        lat: f64,
        lon: f64,
        radius_m: f64,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<NearbyCase>> {
        const METRES_PER_DEGREE: f64 = 111_320.0;
        let dlat = radius_m / METRES_PER_DEGREE;
        let dlon = radius_m / (METRES_PER_DEGREE * lat.to_radians().cos().abs().max(1e-6));
        let rows = sqlx::query(
            "SELECT id, department, received_at, lat, lon, category FROM appeals \
             WHERE tenant_id = $1 AND lat BETWEEN $2 AND $3 AND lon BETWEEN $4 AND $5 \
             AND status IN ('imported', 'decided') AND department IS NOT NULL \
             AND received_at < $6 ORDER BY received_at DESC LIMIT $7",
        )
        .bind(tenant)
        .bind(lat - dlat)
        .bind(lat + dlat)
        .bind(lon - dlon)
        .bind(lon + dlon)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let (plat, plon): (f64, f64) = (r.try_get("lat")?, r.try_get("lon")?);
            // The band is a box; keep the disc (equirectangular distance is
            // exact enough at tens of metres).
            let dy = (plat - lat) * METRES_PER_DEGREE;
            let dx = (plon - lon) * METRES_PER_DEGREE * lat.to_radians().cos();
            if dx * dx + dy * dy <= radius_m * radius_m {
                out.push(NearbyCase {
                    id: r.try_get("id")?,
                    department: r.try_get("department")?,
                    received_at: r.try_get("received_at")?,
                    category: super::category_from_sql(r.try_get("category")?)?,
                    distance_m: (dx * dx + dy * dy).sqrt(),
                });
            }
        }
        Ok(out)
    }

    /// The latest confirmed cases naming the address `key` (see
    /// [`super::address_key`]), received before `before`: a building's
    /// history where no coordinates are known.
    pub async fn confirmed_at_address(
        &self,
        tenant: &str,
        key: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<NearbyCase>> {
        let rows = sqlx::query(
            "SELECT id, department, received_at, category FROM appeals \
             WHERE tenant_id = $1 AND address_key = $2 \
             AND status IN ('imported', 'decided') AND department IS NOT NULL \
             AND received_at < $3 ORDER BY received_at DESC LIMIT $4",
        )
        .bind(tenant)
        .bind(key)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NearbyCase {
                    id: r.try_get("id")?,
                    department: r.try_get("department")?,
                    received_at: r.try_get("received_at")?,
                    category: super::category_from_sql(r.try_get("category")?)?,
                    distance_m: 0.0,
                })
            })
            .collect()
    }
}
