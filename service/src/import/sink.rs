//! The case memory as the destination of an import.
//!
//! Each appeal is committed to the record on its own (appeal + audit + outbox in
//! one transaction: acknowledged means stored), then the outbox is drained, which
//! embeds the batch in one call and upserts it into the index. A crash between
//! the two leaves outbox entries that the next start replays.
//!
//! Switch to `CaseMemory::ingest` once the lead's version lands; the trait stays.

use super::AppealSink;
use crate::memory::CaseMemory;
use crate::record::{AppealData, Inserted, Record};

#[async_trait::async_trait]
impl AppealSink for CaseMemory {
    fn record(&self) -> &Record {
        CaseMemory::record(self)
    }

    async fn ingest(&self, appeals: Vec<AppealData>, actor: &str) -> Result<Vec<Inserted>, String> {
        let mut out = Vec::with_capacity(appeals.len());
        for a in &appeals {
            out.push(
                CaseMemory::record(self)
                    .insert_appeal(a, actor)
                    .await
                    .map_err(|e| e.to_string())?,
            );
        }
        self.drain_outbox().await.map_err(|e| e.to_string())?;
        Ok(out)
    }
}
