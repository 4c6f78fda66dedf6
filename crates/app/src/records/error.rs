//! Why a use case of the records wing failed: clinical records — what cannot be written, read,
//! confirmed or searched as asked. The edges turn each into a status and a message in the user's
//! language (the server's `records/` wing maps them to codes).

/// Why a use case of the records wing failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A resource could not be written as sent.
    #[error(transparent)]
    Record(#[from] kiroku_records::record::RecordError),
    /// A version cannot be confirmed.
    #[error(transparent)]
    Confirm(kiroku_records::record::ConfirmError),
    /// A proxy entry cannot be made as asked.
    #[error(transparent)]
    Proxy(crate::records::ProxyError),
    /// A clinical note from the editor cannot be written as sent.
    #[error(transparent)]
    ClinicalNote(crate::records::chart::NoteError),
    /// A search the server cannot run.
    #[error(transparent)]
    Search(#[from] crate::records::SearchError),
    /// The server keeps no resources of that type.
    #[error("this server keeps no resources of that type")]
    NoSuchResourceType,
    /// No resource (or version) of that id.
    #[error("no such resource")]
    NoSuchResource,
    /// The resource was deleted (by this version); its earlier versions stay readable.
    #[error("the resource was deleted (version {version})")]
    Gone {
        /// The deleting version.
        version: u64,
    },
    /// The body's id is not the URL's.
    #[error("the resource's id does not match the URL")]
    IdMismatch,
    /// The resource is not at the version the client saw.
    #[error("the resource is at version {found}, not {expected}")]
    VersionMismatch {
        /// The version the client saw.
        expected: u64,
        /// The version stored.
        found: u64,
    },
    /// The policy refused access to a record; the attempt was recorded.
    #[error("the policy does not permit {0} on this record")]
    RecordDenied(&'static str),
    /// The policy refused for want of a care relationship with the patient (the action):
    /// a break-the-glass access would open the record.
    #[error("there is no care relationship with the patient for {0}; a break-the-glass access would open it")]
    NoCareRelationship(&'static str),
    /// A person's write that changes who takes part in a patient's care, or a chart's flags,
    /// came without an acceptable reason; nothing was written.
    #[error("a change of care or of a chart's flags needs a reason")]
    AssignmentReason,
    /// A break-the-glass access that cannot be opened or reviewed.
    #[error(transparent)]
    Emergency(#[from] kiroku_records::emergency::EmergencyError),
    /// Another patient holds one of the identifiers.
    #[error("another patient holds that identifier")]
    IdentifierTaken,
    /// A Bundle that is not a transaction this server takes.
    #[error(transparent)]
    Transaction(#[from] kiroku_records::transaction::TransactionError),
    /// One entry of a transaction failed (`entry` from 0); nothing of it was written.
    #[error("entry {entry} of the transaction: {error}")]
    InEntry {
        /// The entry's position.
        entry: usize,
        /// Why it failed.
        error: Box<crate::Error>,
    },
}
