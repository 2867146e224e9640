//! JSON with Python's separators (`", "` and `": "`): productpage's API re-serialises backend
//! answers with simplejson, so clients of `/api/v1/products` see these bytes
//! (docs/behaviour.md#the-json-api).

use std::io;

use serde::Serialize;
use serde_json::ser::{Formatter, Serializer};

struct PythonSeparators;

impl Formatter for PythonSeparators {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }
}

pub fn to_python_json(value: &impl Serialize) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    value.serialize(&mut Serializer::with_formatter(&mut out, PythonSeparators))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_match_simplejson() {
        let value = serde_json::json!([{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}, []]);
        assert_eq!(
            String::from_utf8(to_python_json(&value).unwrap()).unwrap(),
            r#"[{"id": 0, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}, []]"#
        );
    }
}
