//! What the demo tells its user once the service is up: where the review page
//! is, the keys created for this start, and a request to paste.

use std::fmt;
use std::net::SocketAddr;

use serde_json::{json, Value};

/// The running demo: addresses and the keys created for this start. The keys
/// are shown here once; only their hashes are stored.
#[derive(Debug, Clone)]
pub struct DemoInfo {
    /// `http://HOST:PORT` the service answers on.
    pub base_url: String,
    /// The demo tenant.
    pub tenant: String,
    /// Admin key (departments, tenant settings, keys, imports).
    pub admin_key: String,
    /// Supervisor key: paste it into the review page.
    pub supervisor_key: String,
    /// Portal key: submits appeals (the curl line uses it).
    pub portal_key: String,
    /// The body of the example submission.
    pub submit_body: Value,
    /// Lines summarising what was prepared (history, model, fresh appeals).
    pub summary: Vec<String>,
}

/// The example appeal of the curl line.
pub fn example_body() -> Value {
    json!({
        "text": "Во дворе дома на улице Коллонтай неделю не вывозят мусор, контейнеры переполнены.",
        "place": {"district": "Невский"},
        "channel": "web",
    })
}

/// The base URL for a bound address: an unspecified address (0.0.0.0, ::) is
/// reached through loopback.
pub fn base_url(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        if addr.is_ipv4() {
            "127.0.0.1".to_string()
        } else {
            "[::1]".to_string()
        }
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("http://{ip}:{}", addr.port())
}

/// Quotes `s` for a POSIX shell (single quotes; embedded ones closed and escaped).
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl DemoInfo {
    /// The review page.
    pub fn review_url(&self) -> String {
        format!("{}/review", self.base_url)
    }

    /// The submission URL.
    pub fn submit_url(&self) -> String {
        format!("{}/v1/appeals", self.base_url)
    }

    /// A ready-to-paste curl command submitting [`Self::submit_body`] with the portal key.
    pub fn curl(&self) -> String {
        format!(
            "curl -sS -X POST {} -H {} -H 'Content-Type: application/json' -d {}",
            shell_quote(&self.submit_url()),
            shell_quote(&format!("Authorization: Bearer {}", self.portal_key)),
            shell_quote(&self.submit_body.to_string()),
        )
    }
}

impl fmt::Display for DemoInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f)?;
        for line in &self.summary {
            writeln!(f, "  {line}")?;
        }
        writeln!(f)?;
        writeln!(f, "appeal-triage demo is serving tenant {:?}", self.tenant)?;
        writeln!(f)?;
        writeln!(f, "review page:     {}", self.review_url())?;
        writeln!(
            f,
            "supervisor key:  {}   (paste it into the page)",
            self.supervisor_key
        )?;
        writeln!(f, "portal key:      {}", self.portal_key)?;
        writeln!(f, "admin key:       {}", self.admin_key)?;
        writeln!(
            f,
            "These keys were created for this start: only their hashes are stored, so the demo \
             cannot show earlier ones again (they stay valid until revoked)."
        )?;
        writeln!(f)?;
        writeln!(f, "submit an appeal:")?;
        writeln!(f, "{}", self.curl())?;
        writeln!(f)?;
        writeln!(
            f,
            "body fields: text (required); place {{district, municipality, lat, lon, address}}; \
             channel; applicant_category; external_id (repeats return the stored appeal); \
             received_at (unix ms). Answer 201: appeal_id, status, decision (department, \
             confidence, alternatives, evidence, deadlines)."
        )?;
        writeln!(
            f,
            "API reference: {}/v1/openapi.json   Ctrl-C stops the service.",
            self.base_url
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_line_quotes_its_body_for_the_shell() {
        let info = DemoInfo {
            base_url: base_url("0.0.0.0:8080".parse().unwrap()),
            tenant: "demo".into(),
            admin_key: "a".into(),
            supervisor_key: "s".into(),
            portal_key: "atk_p".into(),
            submit_body: json!({"text": "it's cold"}),
            summary: vec![],
        };
        assert_eq!(info.review_url(), "http://127.0.0.1:8080/review");
        assert_eq!(
            info.curl(),
            "curl -sS -X POST 'http://127.0.0.1:8080/v1/appeals' -H 'Authorization: Bearer atk_p' \
             -H 'Content-Type: application/json' -d '{\"text\":\"it'\\''s cold\"}'"
        );
        assert_eq!(base_url("[::]:9".parse().unwrap()), "http://[::1]:9");
    }
}
