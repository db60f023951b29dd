//! Venues mix numbers and numeric strings for the same field (Binance `openInterestHist.timestamp`), send `""` for
//! "not applicable" (Bybit) and `null` for absent values (Hyperliquid). These wrappers accept all of those while
//! parsing straight from the borrowed bytes, and reject anything else with a message naming what was seen.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A number given as a JSON number or a numeric string; `null` and `""` mean absent.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LooseF64(pub Option<f64>);

/// An integer (epoch milliseconds, counts) given as a JSON number or a string; `null` and `""` mean absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LooseI64(pub Option<i64>);

impl LooseF64 {
    /// The value of a field the venue documents as always present.
    pub fn required(self, field: &str) -> Result<f64, String> {
        self.0
            .ok_or_else(|| format!("field '{field}' is null or empty, expected a number"))
    }
}

impl LooseI64 {
    pub fn required(self, field: &str) -> Result<i64, String> {
        self.0
            .ok_or_else(|| format!("field '{field}' is null or empty, expected an integer"))
    }
}

struct F64Visitor;

impl<'de> Visitor<'de> for F64Visitor {
    type Value = LooseF64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a numeric string, \"\" or null")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(LooseF64(Some(v)))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(LooseF64(Some(v as f64)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(LooseF64(Some(v as f64)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(LooseF64(None));
        }
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(LooseF64(Some(x))),
            _ => Err(E::custom(format!("'{v}' is not a finite number"))),
        }
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LooseF64(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LooseF64(None))
    }
}

impl<'de> Deserialize<'de> for LooseF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(F64Visitor)
    }
}

struct I64Visitor;

impl<'de> Visitor<'de> for I64Visitor {
    type Value = LooseI64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer, an integer string, \"\" or null")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(LooseI64(Some(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        i64::try_from(v)
            .map(|v| LooseI64(Some(v)))
            .map_err(|_| E::custom(format!("{v} does not fit in i64")))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Some venues serialise integers as 1.6e12; accept only exact integers.
        if v.fract() == 0.0 && v.abs() < 9.0e18 {
            Ok(LooseI64(Some(v as i64)))
        } else {
            Err(E::custom(format!("{v} is not an integer")))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let v = v.trim();
        if v.is_empty() {
            return Ok(LooseI64(None));
        }
        v.parse::<i64>()
            .map(|x| LooseI64(Some(x)))
            .map_err(|_| E::custom(format!("'{v}' is not an integer")))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LooseI64(None))
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LooseI64(None))
    }
}

impl<'de> Deserialize<'de> for LooseI64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(I64Visitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Row {
        #[serde(default)]
        x: LooseF64,
        #[serde(default)]
        t: LooseI64,
    }

    fn row(json: &str) -> Result<Row, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn accepts_numbers_strings_empties_and_nulls() {
        let r = row(r#"{"x":"0.00038246","t":"1597370495002"}"#).unwrap();
        assert_eq!((r.x.0, r.t.0), (Some(0.00038246), Some(1_597_370_495_002)));
        let r = row(r#"{"x":12.5,"t":1597370495002}"#).unwrap();
        assert_eq!((r.x.0, r.t.0), (Some(12.5), Some(1_597_370_495_002)));
        let r = row(r#"{"x":"","t":null}"#).unwrap();
        assert_eq!((r.x.0, r.t.0), (None, None));
        let r = row(r#"{}"#).unwrap();
        assert_eq!(
            r.x.required("x").unwrap_err(),
            "field 'x' is null or empty, expected a number"
        );
    }

    #[test]
    fn rejects_non_numbers_with_the_value_seen() {
        let err = row(r#"{"x":"abc"}"#).err().unwrap().to_string();
        assert!(err.contains("'abc' is not a finite number"), "{err}");
        assert!(row(r#"{"x":"NaN"}"#).is_err());
        assert!(row(r#"{"t":"12.5"}"#).is_err());
        assert!(row(r#"{"t":1.5}"#).is_err());
        assert!(row(r#"{"x":[1]}"#).is_err());
        assert!(row(r#"{"x":true}"#).is_err());
    }
}
