//! What changed of what launch answers are computed from, as each process
//! hears it: the program whose policy must be read again, or the client keys.

/// The channel on which processes hear about launch policy changes.
pub const CHANNEL: &str = "update_mode_launch_policy";

/// What changed, as announced on the channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChange {
    Program(String),
    ClientKeys,
}

impl PolicyChange {
    pub fn to_payload(&self) -> String {
        match self {
            PolicyChange::Program(id) => format!("program:{id}"),
            PolicyChange::ClientKeys => "client_keys".to_owned(),
        }
    }

    pub fn from_payload(payload: &str) -> Option<Self> {
        match payload.split_once(':') {
            Some(("program", id)) => Some(PolicyChange::Program(id.to_owned())),
            _ if payload == "client_keys" => Some(PolicyChange::ClientKeys),
            _ => None,
        }
    }
}
