//! gRPC messages to the embedded engine's types and back. Written independently
//! of the adapter's own conversions (`service/src/index/server/wire.rs`), so a
//! mistake on one side is not mirrored on the other.

use std::collections::HashMap;

use qdrant_client::qdrant as q;
use qdrant_client::qdrant::{condition::ConditionOneOf, r#match::MatchValue, value::Kind};
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json::{Map, Value as Json};
use qdrant_edge::{
    Condition, Distance, FieldCondition, Filter, JsonPath, Match, OperationError, PointId, Range,
    VectorInternal, VectorStructInternal, DEFAULT_VECTOR_NAME,
};
use tonic::Status;

/// A gRPC payload as the engine's JSON object.
pub(super) fn payload_in(p: HashMap<String, q::Value>) -> Json {
    Json::Object(p.into_iter().map(|(k, v)| (k, value_in(v))).collect())
}

fn value_in(v: q::Value) -> Json {
    match v.kind {
        None | Some(Kind::NullValue(_)) => Json::Null,
        Some(Kind::BoolValue(b)) => Json::Bool(b),
        Some(Kind::IntegerValue(i)) => Json::from(i),
        Some(Kind::DoubleValue(d)) => Json::from(d),
        Some(Kind::StringValue(s)) => Json::String(s),
        Some(Kind::ListValue(l)) => Json::Array(l.values.into_iter().map(value_in).collect()),
        Some(Kind::StructValue(s)) => Json::Object(
            s.fields
                .into_iter()
                .map(|(k, v)| (k, value_in(v)))
                .collect(),
        ),
    }
}

/// The engine's payload as gRPC values.
pub(super) fn payload_out(p: Option<Map<String, Json>>) -> HashMap<String, q::Value> {
    p.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, value_out(v)))
        .collect()
}

fn value_out(v: Json) -> q::Value {
    let kind = match v {
        Json::Null => Kind::NullValue(0),
        Json::Bool(b) => Kind::BoolValue(b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Kind::IntegerValue(i),
            None => Kind::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Kind::StringValue(s),
        Json::Array(a) => Kind::ListValue(q::ListValue {
            values: a.into_iter().map(value_out).collect(),
        }),
        Json::Object(o) => Kind::StructValue(q::Struct {
            fields: o.into_iter().map(|(k, v)| (k, value_out(v))).collect(),
        }),
    };
    q::Value { kind: Some(kind) }
}

/// A numeric gRPC point id (the only kind our adapter sends).
pub(super) fn id_in(id: Option<q::PointId>) -> Result<PointId, Status> {
    match id.and_then(|i| i.point_id_options) {
        Some(q::point_id::PointIdOptions::Num(n)) => Ok(PointId::NumId(n)),
        other => Err(Status::invalid_argument(format!(
            "point id {other:?}: only numeric ids are supported here"
        ))),
    }
}

/// An engine id on the wire.
pub(super) fn id_out(id: PointId) -> q::PointId {
    let options = match id {
        PointId::NumId(n) => q::point_id::PointIdOptions::Num(n),
        PointId::Uuid(u) => q::point_id::PointIdOptions::Uuid(u.to_string()),
    };
    q::PointId {
        point_id_options: Some(options),
    }
}

/// The single unnamed dense vector of an upserted point.
#[allow(deprecated)] // older clients fill the deprecated `data` field
pub(super) fn vector_in(v: Option<q::Vectors>) -> Result<Vec<f32>, Status> {
    match v.and_then(|v| v.vectors_options) {
        Some(q::vectors::VectorsOptions::Vector(v)) => match v.vector {
            Some(q::vector::Vector::Dense(d)) => Ok(d.data),
            None if !v.data.is_empty() => Ok(v.data),
            _ => Err(Status::invalid_argument(
                "only dense vectors are supported here",
            )),
        },
        _ => Err(Status::invalid_argument(
            "a point needs one unnamed dense vector here",
        )),
    }
}

/// An engine vector on the wire.
pub(super) fn vector_out(v: Option<VectorStructInternal>) -> Option<q::VectorsOutput> {
    let dense = match v? {
        VectorStructInternal::Single(d) => d,
        VectorStructInternal::Named(mut m) => match m.remove(DEFAULT_VECTOR_NAME)? {
            VectorInternal::Dense(d) => d,
            _ => return None,
        },
        VectorStructInternal::MultiDense(_) => return None,
    };
    Some(q::VectorsOutput {
        vectors_options: Some(q::vectors_output::VectorsOptions::Vector(q::VectorOutput {
            vector: Some(q::vector_output::Vector::Dense(q::DenseVector {
                data: dense,
            })),
            ..Default::default()
        })),
    })
}

/// Whether a payload selector asks for the payload (Qdrant's default: yes).
pub(super) fn wants_payload(s: &Option<q::WithPayloadSelector>) -> Result<bool, Status> {
    use q::with_payload_selector::SelectorOptions;
    match s.as_ref().and_then(|s| s.selector_options.as_ref()) {
        None => Ok(true),
        Some(SelectorOptions::Enable(b)) => Ok(*b),
        Some(_) => Err(Status::unimplemented("payload include/exclude selectors")),
    }
}

/// Whether a vector selector asks for vectors (Qdrant's default: no).
pub(super) fn wants_vectors(s: &Option<q::WithVectorsSelector>) -> Result<bool, Status> {
    use q::with_vectors_selector::SelectorOptions;
    match s.as_ref().and_then(|s| s.selector_options.as_ref()) {
        None => Ok(false),
        Some(SelectorOptions::Enable(b)) => Ok(*b),
        Some(_) => Err(Status::unimplemented("named vector selectors")),
    }
}

fn key(k: &str) -> Result<JsonPath, Status> {
    k.parse()
        .map_err(|_| Status::invalid_argument(format!("bad payload key `{k}`")))
}

fn condition(c: q::Condition) -> Result<Condition, Status> {
    match c.condition_one_of {
        Some(ConditionOneOf::Filter(f)) => Ok(Condition::Filter(filter(f)?)),
        Some(ConditionOneOf::Field(f)) => {
            let path = key(&f.key)?;
            match (f.r#match.and_then(|m| m.match_value), f.range) {
                (Some(m), None) => {
                    let m = match m {
                        MatchValue::Keyword(s) => Match::from(s),
                        MatchValue::Integer(i) => Match::from(i),
                        MatchValue::Boolean(b) => Match::from(b),
                        MatchValue::Keywords(s) => Match::from(s.strings),
                        other => {
                            return Err(Status::unimplemented(format!(
                                "match {other:?} is not supported here"
                            )))
                        }
                    };
                    Ok(Condition::Field(FieldCondition::new_match(path, m)))
                }
                (None, Some(r)) => Ok(Condition::Field(FieldCondition::new_range(
                    path,
                    Range {
                        lt: r.lt.map(OrderedFloat),
                        gt: r.gt.map(OrderedFloat),
                        gte: r.gte.map(OrderedFloat),
                        lte: r.lte.map(OrderedFloat),
                    },
                ))),
                _ => Err(Status::unimplemented(format!(
                    "field condition on `{}`: only one match or one range is supported here",
                    f.key
                ))),
            }
        }
        other => Err(Status::unimplemented(format!(
            "condition {other:?} is not supported here"
        ))),
    }
}

fn conditions(cs: Vec<q::Condition>) -> Result<Option<Vec<Condition>>, Status> {
    if cs.is_empty() {
        return Ok(None);
    }
    cs.into_iter()
        .map(condition)
        .collect::<Result<_, _>>()
        .map(Some)
}

/// A gRPC filter as the engine's filter.
pub(super) fn filter(f: q::Filter) -> Result<Filter, Status> {
    if f.min_should.is_some() {
        return Err(Status::unimplemented("min_should is not supported here"));
    }
    Ok(Filter {
        must: conditions(f.must)?,
        should: conditions(f.should)?,
        must_not: conditions(f.must_not)?,
        min_should: None,
    })
}

/// A gRPC distance as the engine's.
pub(super) fn distance(d: i32) -> Result<Distance, Status> {
    match q::Distance::try_from(d) {
        Ok(q::Distance::Cosine) => Ok(Distance::Cosine),
        Ok(q::Distance::Dot) => Ok(Distance::Dot),
        Ok(q::Distance::Euclid) => Ok(Distance::Euclid),
        Ok(q::Distance::Manhattan) => Ok(Distance::Manhattan),
        _ => Err(Status::invalid_argument(format!("unknown distance {d}"))),
    }
}

/// An engine error as the status a Qdrant server would give.
pub(super) fn status(e: OperationError) -> Status {
    match e {
        OperationError::WrongVectorDimension { .. }
        | OperationError::ValidationError { .. }
        | OperationError::TypeError { .. }
        | OperationError::WrongSparse
        | OperationError::WrongMulti => Status::invalid_argument(format!("Wrong input: {e}")),
        OperationError::PointIdError { .. } => Status::not_found(e.to_string()),
        OperationError::Timeout { .. } => Status::deadline_exceeded(e.to_string()),
        other => Status::internal(other.to_string()),
    }
}
