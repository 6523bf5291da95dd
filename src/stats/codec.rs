//! HdrHistogram's standard V2 + DEFLATE encoding in base64, so other HdrHistogram libraries can
//! read the histograms of results.json.

use base64::Engine;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

use super::Histogram;

#[derive(Debug, thiserror::Error)]
#[error("invalid histogram: {0}")]
pub struct CodecError(String);

impl CodecError {
    pub fn missing(what: &str) -> Self {
        CodecError(format!("no histogram for {what}"))
    }
}

pub fn encode(h: &Histogram) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serialising into a Vec cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub fn decode(text: &str) -> Result<Histogram, CodecError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| CodecError(e.to_string()))?;
    let mut h: Histogram = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| CodecError(format!("{e:?}")))?;
    h.auto(true);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::new_histogram;

    #[test]
    fn round_trip_keeps_every_count() {
        let mut h = new_histogram(3);
        for v in [1u64, 7, 900, 12_345, 9_999_999] {
            h.record_n(v, v % 7 + 1).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), h.len());
        assert_eq!(back.max(), h.max());
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        // Decoded histograms still grow.
        let mut back = back;
        back.record(u32::MAX as u64 * 4).unwrap();
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(decode("not base64!").is_err());
        assert!(decode("SElTVEZBQUFB").is_err());
        assert!(decode("").is_err());
    }
}
