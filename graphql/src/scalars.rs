//! Contract scalars and shared value types: `Decimal` (a number as a string), `DateTime`
//! (RFC 3339, UTC) and `Money`.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};
use choso_services::{ids::rfc3339, text::format_vnd};

/// A decimal number carried as a string ("150000"); integers are accepted on input too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decimal(pub String);

#[Scalar]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Decimal(s)),
            Value::Number(n) => Ok(Decimal(n.to_string())),
            other => Err(InputValueError::custom(format!(
                "Decimal must be a string such as \"150000\", not {other}"
            ))),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

/// A point in time, RFC 3339 in UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateTime(pub i64);

#[Scalar]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => choso_services::ids::parse_datetime(s)
                .map(DateTime)
                .ok_or_else(|| {
                    InputValueError::custom("DateTime must be RFC 3339, e.g. 2026-01-31T00:00:00Z")
                }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }
    fn to_value(&self) -> Value {
        Value::String(rfc3339(self.0))
    }
}

/// An amount of money in the currency's minor unit (VND has none).
#[derive(SimpleObject, Debug, Clone)]
pub struct Money {
    pub amount: Decimal,
    pub currency_code: String,
    pub formatted: String,
}

impl Money {
    pub fn vnd(amount: i64) -> Money {
        Money {
            amount: Decimal(amount.to_string()),
            currency_code: "VND".to_string(),
            formatted: format_vnd(amount),
        }
    }
}
