//! Document ids, in the form automerge-repo uses: 16 random bytes, written as a
//! bs58check string, inside an `automerge:` URL.

use std::fmt;
use std::str::FromStr;

const URL_PREFIX: &str = "automerge:";

/// The id of one automerge document.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId([u8; 16]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("not an automerge document id: {0}")]
    Malformed(String),
}

impl DocId {
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        DocId(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The `automerge:…` URL of this document.
    pub fn url(&self) -> String {
        format!("{URL_PREFIX}{self}")
    }

    /// Accepts either a bare id or an `automerge:` URL.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let bare = text.strip_prefix(URL_PREFIX).unwrap_or(text);
        let bytes = bs58::decode(bare)
            .with_check(None)
            .into_vec()
            .map_err(|_| IdError::Malformed(text.to_string()))?;
        let bytes: [u8; 16] = bytes
            .try_into()
            .map_err(|_| IdError::Malformed(text.to_string()))?;
        Ok(DocId(bytes))
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&bs58::encode(self.0).with_check().into_string())
    }
}

impl fmt::Debug for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocId({self})")
    }
}

impl FromStr for DocId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DocId::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_url_and_bare_form() {
        let id = DocId::from_bytes([7; 16]);
        assert!(id.url().starts_with("automerge:"));
        assert_eq!(DocId::parse(&id.url()).unwrap(), id);
        assert_eq!(id.to_string().parse::<DocId>().unwrap(), id);
    }

    #[test]
    fn refuses_bad_checksums_and_lengths() {
        let good = DocId::from_bytes([1; 16]).to_string();
        let mut bad = good.clone();
        let last = bad.pop().unwrap();
        bad.push(if last == '2' { '3' } else { '2' });
        assert!(DocId::parse(&bad).is_err());
        assert!(DocId::parse("automerge:").is_err());
        assert!(DocId::parse("automerge:0OIl").is_err());
        let short = bs58::encode([1u8; 8]).with_check().into_string();
        assert!(DocId::parse(&short).is_err());
    }
}
