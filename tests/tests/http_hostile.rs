//! Generated hostile requests across every endpoint, over real HTTP, as an
//! attacker or a broken client would send them: random methods, paths with
//! garbage ids, bodies of random JSON, random bytes, huge and control-character
//! strings, wrong content types, keys of every role, of another tenant, forged
//! or none. Every answer must be a non-5xx with a JSON (or Open311) body, the
//! service must stay up, and nothing of tenant A may reach tenant B's keys.
//!
//! 3,000 requests per run from a fixed seed (deterministic);
//! `TRIAGE_HOSTILE_REQUESTS=10000` runs more (docs/benchmarks.md records a run).

mod http_support;

use appeal_triage::record::KeyRole;
use http_support::*;
use serde_json::{json, Value};

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

const NASTY: &[&str] = &[
    "",
    " ",
    "\u{0}",
    "\u{1}\u{2}\u{1b}[31m",
    "\u{200b}\u{200b}",
    "\u{212a}\u{17f} IBAN UA21 3223 1300 0002 6007 2335 6600 1",
    "İıßςΣ\u{301}\u{202e}abc",
    "'; DROP TABLE appeals; --",
    "../../etc/passwd",
    "%00%ff%fe",
    "<script>alert(1)</script>",
    "{\"$ne\": null}",
    "яма на дорозі біля школи",
    "1e309",
    "-9223372036854775809",
    "NaN",
];

fn nasty_string(r: &mut Rng) -> String {
    match r.below(5) {
        0 => "x".repeat(r.below(300_000)),
        1 => (0..r.below(64))
            .map(|_| char::from_u32(r.below(0x11_0000) as u32).unwrap_or('\u{fffd}'))
            .collect(),
        _ => r.pick(NASTY).to_string(),
    }
}

fn nasty_json(r: &mut Rng, depth: usize) -> Value {
    match r.below(if depth > 3 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => json!(r.below(2) == 0),
        2 => json!(r.next() as i64),
        3 => json!(f64::from_bits(r.next()).is_finite().then_some(1.5e300)),
        4 => json!(nasty_string(r)),
        5 => Value::Array((0..r.below(4)).map(|_| nasty_json(r, depth + 1)).collect()),
        _ => {
            let keys = [
                "text",
                "place",
                "category",
                "channel",
                "received_at",
                "external_id",
                "district",
                "lat",
                "lon",
                "appeals",
                "department",
                "comment",
                "reason",
                "names",
                "role",
                "label",
                "id",
                "name",
                "suspended",
                "alpha",
            ];
            let mut m = serde_json::Map::new();
            for _ in 0..r.below(5) {
                m.insert(r.pick(&keys).to_string(), nasty_json(r, depth + 1));
            }
            Value::Object(m)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_hostile_requests_never_get_a_5xx_or_another_tenants_data() {
    let s = start().await;
    s.tenant("a", DEPARTMENTS).await;
    s.tenant("b", DEPARTMENTS).await;
    let secret_a = "tenant-a-only-marker-7f3c";
    let a_portal = s.key("a", KeyRole::Portal).await;
    let a_id = s
        .submit(&a_portal, &format!("{secret_a} water pipe burst"), "North")
        .await["appeal_id"]
        .as_i64()
        .unwrap();
    let keys = [
        s.key("b", KeyRole::Portal).await,
        s.key("b", KeyRole::Supervisor).await,
        s.key("b", KeyRole::Admin).await,
        "atk_0000000000000000_forged".to_string(),
        String::new(),
        "x".repeat(10_000),
    ];
    let paths = [
        "/v1/appeals",
        "/v1/appeals:batch",
        "/v1/appeals:preview",
        "/v1/appeals/{id}",
        "/v1/appeals/{id}/decision",
        "/v1/appeals/{id}/reroute",
        "/v1/appeals/{id}/history",
        "/v1/review/queue",
        "/v1/tenants/{id}",
        "/v1/departments",
        "/v1/departments/{id}",
        "/v1/categories",
        "/v1/categories/{id}",
        "/v1/keys",
        "/v1/keys/{id}",
        "/v1/import?format={id}",
        "/v1/outbox/dead",
        "/v1/outbox/dead/{id}/retry",
        "/v1/admin/tenants",
        "/v1/admin/tenants/{id}",
        "/open311/v2/services.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests/{id}.xml",
        "/open311/v2/tokens/{id}.json",
        "/nowhere/{id}",
    ];
    let ids = |r: &mut Rng| -> String {
        match r.below(6) {
            0 => a_id.to_string(),
            1 => "a".into(),
            2 => "-1".into(),
            3 => "99999999999999999999999".into(),
            4 => "%2e%2e%2f".into(),
            _ => urlencode(&nasty_string(r).chars().take(50).collect::<String>()),
        }
    };
    let n: usize = std::env::var("TRIAGE_HOSTILE_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    for i in 0..n {
        let method = r
            .pick(&["GET", "POST", "PUT", "DELETE", "PATCH"])
            .to_string();
        let id = ids(&mut r);
        let mut path = r.pick(&paths).replace("{id}", &id);
        if r.below(4) == 0 {
            path.push_str(&format!(
                "?api_key={}&status={}",
                r.pick(&keys),
                urlencode(r.pick::<&str>(NASTY))
            ));
        }
        let key = r.pick(&keys).clone();
        let mut req = s
            .client
            .request(method.parse().unwrap(), s.url(&path))
            .bearer_auth(&key);
        req = match r.below(4) {
            0 => req.json(&nasty_json(&mut r, 0)),
            1 => req
                .header(
                    "content-type",
                    *r.pick(&[
                        "text/csv",
                        "application/json",
                        "application/xml",
                        "multipart/form-data",
                    ]),
                )
                .body(
                    (0..r.below(4096))
                        .map(|_| r.next() as u8)
                        .collect::<Vec<u8>>(),
                ),
            2 => req.form(&[
                ("api_key", key.as_str()),
                ("service_code", &nasty_string(&mut r)),
                ("description", &nasty_string(&mut r)),
            ]),
            _ => req,
        };
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => panic!(
                "request {i} {method} {path} (key of {} bytes): connection dropped: {e:?}",
                key.len()
            ),
        };
        let status = resp.status().as_u16();
        let ctype = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = resp.text().await.unwrap_or_default();
        *by_status.entry(status).or_default() += 1;
        assert!(status < 500, "request {i} {method} {path}: {status} {body}");
        assert!(
            !body.contains(secret_a),
            "request {i} {method} {path} with a key of B shows A's text: {body}"
        );
        if status >= 400 {
            assert!(
                ["application/json", "application/xml", "text/xml"]
                    .iter()
                    .any(|t| ctype.starts_with(t)),
                "request {i} {method} {path}: {status} answered {ctype:?}: {body}"
            );
        }
    }
    eprintln!("{n} hostile requests, answers by status: {by_status:?}");
    // Alive, and A's appeal untouched.
    let r = s.client.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let a_admin = s.key("a", KeyRole::Admin).await;
    let (st, v) = s.get(&a_admin, &format!("/v1/appeals/{a_id}")).await;
    assert_eq!(st, 200);
    assert!(v["text"].as_str().unwrap().contains(secret_a));
    assert!(v["decisions"].as_array().unwrap().is_empty(), "{v}");
    s.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
