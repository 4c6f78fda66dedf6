//! C2SP `tlog-checkpoint`: the note text `<origin>\n<size>\n<base64 root>\n[extension lines]`,
//! signed as a C2SP `signed-note`.

use crate::hash::Hash;
use crate::note::{self, NoteError, Signer, Verifier};

/// Why a checkpoint was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    /// The note did not open.
    #[error(transparent)]
    Note(#[from] NoteError),
    /// The text is not a checkpoint.
    #[error("malformed checkpoint: {0}")]
    Format(&'static str),
    /// The checkpoint is for another log.
    #[error("checkpoint is for another origin")]
    Origin,
}

/// A tree head: which log, how many entries, and the root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, e.g. `kiroku.example/osaki-ledger`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Root hash of the tree of the first `size` entries.
    pub root: Hash,
    /// Optional extension lines (none of them empty).
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a note text (without signatures).
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text
            .strip_suffix('\n')
            .ok_or(CheckpointError::Format("text does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(CheckpointError::Format("missing origin"))?;
        let size_text = lines
            .next()
            .ok_or(CheckpointError::Format("missing size"))?;
        if size_text.is_empty()
            || !size_text.bytes().all(|b| b.is_ascii_digit())
            || (size_text.len() > 1 && size_text.starts_with('0'))
        {
            return Err(CheckpointError::Format("size is not a decimal number"));
        }
        let size = size_text
            .parse()
            .map_err(|_| CheckpointError::Format("size is too large"))?;
        let root = lines
            .next()
            .and_then(Hash::from_base64)
            .ok_or(CheckpointError::Format("root is not a base64 SHA-256 hash"))?;
        let extensions: Vec<String> = lines.map(str::to_owned).collect();
        if extensions.iter().any(String::is_empty) {
            return Err(CheckpointError::Format("empty extension line"));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// Signs the checkpoint, returning the signed note.
    pub fn sign(&self, signer: &Signer) -> Result<String, CheckpointError> {
        Ok(signer.sign(&self.to_text())?)
    }

    /// Opens a signed checkpoint: verifies the signature and that it names `origin`.
    pub fn open(
        signed: &str,
        origin: &str,
        verifier: &Verifier,
    ) -> Result<Checkpoint, CheckpointError> {
        let text = note::open(signed, std::slice::from_ref(verifier))?;
        let checkpoint = Checkpoint::parse_text(text)?;
        if checkpoint.origin != origin {
            return Err(CheckpointError::Origin);
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    fn signer() -> Signer {
        Signer::from_seed("kiroku.test/log", [9; 32]).unwrap_or_else(|_| unreachable!())
    }

    // Shows that a signed checkpoint opens to itself, and that altering its size, root or
    // origin, or its signature, makes it fail.
    #[test]
    fn checkpoints_sign_open_and_detect_alteration() {
        let signer = signer();
        let checkpoint = Checkpoint {
            origin: "kiroku.test/log".into(),
            size: 12,
            root: leaf_hash(b"x"),
            extensions: vec![],
        };
        let signed = checkpoint.sign(&signer).unwrap_or_default();
        let verifier = signer.verifier();
        assert_eq!(
            Checkpoint::open(&signed, "kiroku.test/log", &verifier),
            Ok(checkpoint.clone())
        );
        assert_eq!(
            Checkpoint::open(&signed, "other", &verifier),
            Err(CheckpointError::Origin)
        );
        let resized = signed.replacen("\n12\n", "\n13\n", 1);
        assert!(Checkpoint::open(&resized, "kiroku.test/log", &verifier).is_err());
        let rerooted = signed.replacen(
            &checkpoint.root.to_base64(),
            &leaf_hash(b"y").to_base64(),
            1,
        );
        assert!(Checkpoint::open(&rerooted, "kiroku.test/log", &verifier).is_err());
    }

    // Shows the exact text layout and that malformed texts are refused.
    #[test]
    fn text_layout() {
        let checkpoint = Checkpoint {
            origin: "o".into(),
            size: 0,
            root: Hash::empty(),
            extensions: vec!["ext".into()],
        };
        assert_eq!(
            checkpoint.to_text(),
            "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n"
        );
        assert_eq!(
            Checkpoint::parse_text(&checkpoint.to_text()),
            Ok(checkpoint)
        );
        for bad in [
            "o\n01\nAAAA\n",
            "o\n1\n",
            "\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",
            "o\nx\n",
        ] {
            assert!(Checkpoint::parse_text(bad).is_err(), "{bad:?}");
        }
    }
}
