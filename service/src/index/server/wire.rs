//! Our types as Qdrant's gRPC messages and back: filters, payloads, ids and
//! vectors. Pure functions, so the mapping is tested without a network; the
//! payload goes through the same serde form as the embedded engine's, which keeps
//! the stored schema identical on both backends.

use std::collections::HashMap;

use qdrant_client::qdrant::{
    condition::ConditionOneOf, point_id::PointIdOptions, r#match::MatchValue, value::Kind,
    vector_output, vectors_output::VectorsOptions, Condition, FieldCondition, Filter, ListValue,
    Match, PointId, Range, RepeatedStrings, Struct, Value, VectorsOutput,
};

use crate::index::{CaseFilter, CasePayload, IndexError, Result};

fn invalid(what: impl std::fmt::Display) -> IndexError {
    IndexError::Engine(format!("unexpected answer from the Qdrant server: {what}"))
}

fn field(key: &str, m: MatchValue) -> Condition {
    Condition {
        condition_one_of: Some(ConditionOneOf::Field(FieldCondition {
            key: key.to_string(),
            r#match: Some(Match {
                match_value: Some(m),
            }),
            ..Default::default()
        })),
    }
}

/// The server filter of a [`CaseFilter`]: every field ANDed, statuses ORed,
/// `received_at` in `[from, before)`, as the embedded engine filters.
pub(super) fn to_filter(f: &CaseFilter) -> Filter {
    let mut must = vec![field("tenant", MatchValue::Keyword(f.tenant.clone()))];
    if let Some(d) = &f.department {
        must.push(field("department", MatchValue::Keyword(d.clone())));
    }
    if let Some(d) = &f.district {
        must.push(field("district", MatchValue::Keyword(d.clone())));
    }
    if !f.statuses.is_empty() {
        must.push(field(
            "status",
            MatchValue::Keywords(RepeatedStrings {
                strings: f.statuses.clone(),
            }),
        ));
    }
    if f.received_from.is_some() || f.received_before.is_some() {
        must.push(Condition {
            condition_one_of: Some(ConditionOneOf::Field(FieldCondition {
                key: "received_at".into(),
                range: Some(Range {
                    gte: f.received_from.map(|v| v as f64),
                    lt: f.received_before.map(|v| v as f64),
                    gt: None,
                    lte: None,
                }),
                ..Default::default()
            })),
        });
    }
    Filter {
        must,
        ..Default::default()
    }
}

fn json_to_value(v: serde_json::Value) -> Value {
    let kind = match v {
        serde_json::Value::Null => Kind::NullValue(0),
        serde_json::Value::Bool(b) => Kind::BoolValue(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Kind::IntegerValue(i),
            None => Kind::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        },
        serde_json::Value::String(s) => Kind::StringValue(s),
        serde_json::Value::Array(a) => Kind::ListValue(ListValue {
            values: a.into_iter().map(json_to_value).collect(),
        }),
        serde_json::Value::Object(o) => Kind::StructValue(Struct {
            fields: o.into_iter().map(|(k, v)| (k, json_to_value(v))).collect(),
        }),
    };
    Value { kind: Some(kind) }
}

fn value_to_json(v: Value) -> serde_json::Value {
    match v.kind {
        None | Some(Kind::NullValue(_)) => serde_json::Value::Null,
        Some(Kind::BoolValue(b)) => b.into(),
        Some(Kind::IntegerValue(i)) => i.into(),
        Some(Kind::DoubleValue(d)) => serde_json::Number::from_f64(d)
            .map(serde_json::Value::Number)
            .unwrap_or(serde_json::Value::Null),
        Some(Kind::StringValue(s)) => s.into(),
        Some(Kind::ListValue(l)) => l.values.into_iter().map(value_to_json).collect(),
        Some(Kind::StructValue(s)) => serde_json::Value::Object(
            s.fields
                .into_iter()
                .map(|(k, v)| (k, value_to_json(v)))
                .collect(),
        ),
    }
}

/// A payload as the server stores it (the same JSON object as embedded).
pub(super) fn to_payload(p: &CasePayload) -> Result<HashMap<String, Value>> {
    match serde_json::to_value(p).map_err(|e| IndexError::Engine(e.to_string()))? {
        serde_json::Value::Object(o) => {
            Ok(o.into_iter().map(|(k, v)| (k, json_to_value(v))).collect())
        }
        other => Err(IndexError::Engine(format!(
            "payload is not an object: {other}"
        ))),
    }
}

/// A stored payload back as [`CasePayload`].
pub(super) fn from_payload(p: HashMap<String, Value>) -> Result<CasePayload> {
    let obj = p.into_iter().map(|(k, v)| (k, value_to_json(v))).collect();
    serde_json::from_value(serde_json::Value::Object(obj)).map_err(invalid)
}

/// A record id as a point id.
pub(super) fn point_id(id: u64) -> PointId {
    PointId {
        point_id_options: Some(PointIdOptions::Num(id)),
    }
}

/// A point id back as the record id (we only ever store numeric ids).
pub(super) fn num_id(id: Option<PointId>) -> Result<u64> {
    match id.and_then(|p| p.point_id_options) {
        Some(PointIdOptions::Num(n)) => Ok(n),
        other => Err(invalid(format!("point id {other:?} is not numeric"))),
    }
}

/// The default (unnamed) dense vector of a returned point.
pub(super) fn dense(v: Option<VectorsOutput>) -> Result<Vec<f32>> {
    let out = match v.and_then(|v| v.vectors_options) {
        Some(VectorsOptions::Vector(out)) => out,
        Some(VectorsOptions::Vectors(mut named)) => match named.vectors.remove("") {
            Some(out) => out,
            None => return Err(invalid("point without the default vector")),
        },
        None => return Err(invalid("point without a vector")),
    };
    match out.into_vector() {
        vector_output::Vector::Dense(d) => Ok(d.data),
        _ => Err(invalid("point vector is not dense")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload() -> CasePayload {
        CasePayload {
            tenant: "t".into(),
            department: None,
            district: Some("d".into()),
            status: "decided".into(),
            received_at: -1_700_000_000_123,
            model: "m".into(),
        }
    }

    #[test]
    fn payload_round_trips_with_nulls_and_negative_integers() {
        let wire = to_payload(&payload()).unwrap();
        assert_eq!(wire.len(), 6, "every field is stored, absent ones as null");
        assert_eq!(
            wire["received_at"].kind,
            Some(Kind::IntegerValue(-1_700_000_000_123)),
            "integers stay integers so the range index applies"
        );
        assert_eq!(wire["department"].kind, Some(Kind::NullValue(0)));
        assert_eq!(from_payload(wire).unwrap(), payload());
    }

    #[test]
    fn a_payload_without_the_tenant_is_an_error_not_a_panic() {
        let mut wire = to_payload(&payload()).unwrap();
        wire.remove("tenant");
        assert!(from_payload(wire).is_err());
    }

    #[test]
    fn filter_has_one_condition_per_set_field() {
        assert_eq!(to_filter(&CaseFilter::tenant("a")).must.len(), 1);
        let f = to_filter(&CaseFilter {
            department: Some("x".into()),
            district: Some("y".into()),
            statuses: vec!["a".into(), "b".into()],
            received_from: Some(5),
            received_before: None,
            ..CaseFilter::tenant("a")
        });
        assert_eq!(f.must.len(), 5);
        let Some(ConditionOneOf::Field(range)) = &f.must[4].condition_one_of else {
            panic!("range condition expected");
        };
        let r = range.range.unwrap();
        assert_eq!((r.gte, r.lt), (Some(5.0), None));
    }

    #[test]
    fn ids_must_be_numeric() {
        assert_eq!(num_id(Some(point_id(42))).unwrap(), 42);
        let uuid = PointId {
            point_id_options: Some(PointIdOptions::Uuid("x".into())),
        };
        assert!(num_id(Some(uuid)).is_err());
        assert!(num_id(None).is_err());
    }
}
