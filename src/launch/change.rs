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
    /// The announcement, with the policy revision a program's change
    /// committed, so that a process already holding it (the one that made
    /// the change) does not read it again.
    pub fn to_payload(&self, revision: Option<i32>) -> String {
        match (self, revision) {
            (PolicyChange::Program(id), Some(revision)) => format!("program:{revision}:{id}"),
            (PolicyChange::Program(id), None) => format!("program:{id}"),
            (PolicyChange::ClientKeys, _) => "client_keys".to_owned(),
        }
    }

    /// The change announced, and the revision it committed if it says. An
    /// announcement without one (from a process of an earlier release) is
    /// read as a change of unknown revision.
    pub fn from_payload(payload: &str) -> Option<(Self, Option<i32>)> {
        match payload.split_once(':') {
            Some(("program", rest)) => Some(
                match rest
                    .split_once(':')
                    .and_then(|(revision, id)| Some((revision.parse().ok()?, id)))
                {
                    Some((revision, id)) => (PolicyChange::Program(id.to_owned()), Some(revision)),
                    None => (PolicyChange::Program(rest.to_owned()), None),
                },
            ),
            _ if payload == "client_keys" => Some((PolicyChange::ClientKeys, None)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_read_back_as_they_were_sent() {
        let program = PolicyChange::Program("mp-0000003".into());
        for (change, revision) in [
            (program.clone(), Some(7)),
            (program, None),
            (PolicyChange::ClientKeys, None),
        ] {
            assert_eq!(
                PolicyChange::from_payload(&change.to_payload(revision)),
                Some((change, revision))
            );
        }
        assert_eq!(PolicyChange::from_payload("something else"), None);
    }
}
