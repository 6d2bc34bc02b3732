//! Live updates of one mini program: the changes that committed after a
//! subscriber started listening, for a principal of the program's workspace.

use std::sync::Arc;

use futures_util::{Stream, StreamExt};

use super::{ServiceError, Services, mini_programs, versions};
use crate::domain::{EventType, MiniProgramVersion, Principal, UpdateModeChange};
use crate::hooks::StoredEvent;
use crate::live::{Interrupted, LiveEvent};

/// The changes of a program's global update mode from now on.
pub async fn update_mode_changes(
    services: &Services,
    principal: &Principal,
    mini_program_id: &str,
) -> Result<impl Stream<Item = Result<UpdateModeChange, ServiceError>> + Send + use<>, ServiceError>
{
    let events = program_events(services, principal, mini_program_id).await?;
    Ok(events.filter_map(|event| async move {
        match event {
            Ok(event) if event.event.event_type == EventType::UpdateModeChanged => {
                update_mode_change(&event.event).map(Ok)
            }
            Ok(_) => None,
            Err(error) => Some(Err(error)),
        }
    }))
}

/// A program's versions as each is created or reaches another status.
pub async fn version_changes(
    services: &Services,
    principal: &Principal,
    mini_program_id: &str,
) -> Result<impl Stream<Item = Result<MiniProgramVersion, ServiceError>> + Send + use<>, ServiceError>
{
    let events = program_events(services, principal, mini_program_id).await?;
    // Shared by the reads of every event, rather than copied for each.
    let reader = Arc::new((services.clone(), principal.clone()));
    Ok(events
        .filter_map(move |event| {
            let reader = reader.clone();
            async move {
                let (services, principal) = &*reader;
                let event = match event {
                    Ok(event) if event.event.event_type != EventType::UpdateModeChanged => event,
                    Ok(_) => return None,
                    Err(error) => return Some(Err(error)),
                };
                let id = event_version_id(&event.event)?;
                // The version as it is when the first subscriber asks, as a
                // query would show it; the caller's roles decide the rest.
                let version = event
                    .version
                    .get_or_try_init(|| versions::find(services, principal, &id))
                    .await;
                match version {
                    Ok(Some(version)) => Some(Ok(version.clone())),
                    Ok(None) => None,
                    Err(error) => {
                        tracing::warn!(?error, "cannot read a changed version for a subscriber");
                        Some(Err(ServiceError::Interrupted))
                    }
                }
            }
        })
        // After an error the subscriber re-reads and subscribes again.
        .scan(false, |ended, item| {
            let yielded = (!*ended).then_some(item);
            if matches!(yielded, Some(Err(_))) {
                *ended = true;
            }
            futures_util::future::ready(yielded)
        }))
}

/// The committed events of a program the principal may see.
async fn program_events(
    services: &Services,
    principal: &Principal,
    mini_program_id: &str,
) -> Result<impl Stream<Item = Result<Arc<LiveEvent>, ServiceError>> + Send + use<>, ServiceError> {
    // Subscribed before the program is read: nothing that commits after
    // the read can be missed.
    let events = services
        .live
        .subscribe(mini_program_id)
        .map_err(|Interrupted| ServiceError::Interrupted)?;
    let program = mini_programs::find(services, principal, mini_program_id)
        .await?
        .ok_or(ServiceError::NotFound("mini program"))?;
    let workspace = program.workspace_id;
    Ok(events.filter_map(move |event| {
        let event = match event {
            // Ids are unique across workspaces; this keeps it so regardless.
            Ok(event) if event.event.workspace_id == workspace => Some(Ok(event)),
            Ok(_) => None,
            Err(Interrupted) => Some(Err(ServiceError::Interrupted)),
        };
        futures_util::future::ready(event)
    }))
}

fn update_mode_change(event: &StoredEvent) -> Option<UpdateModeChange> {
    let data = match event.data() {
        Ok(data) => data,
        Err(error) => {
            tracing::warn!(%error, event = %event.id, "an unreadable update_mode.changed event");
            return None;
        }
    };
    Some(UpdateModeChange {
        mini_program_id: event.mini_program_id.clone(),
        previous_mode: data.previous_mode?,
        mode: data.update_mode,
        changed_by: data.actor,
        changed_at: event.occurred_at,
        revision: data.revision?,
    })
}

fn event_version_id(event: &StoredEvent) -> Option<String> {
    event.data().ok()?.version_id
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::UpdateMode;

    fn stored(data: &str) -> StoredEvent {
        StoredEvent {
            sequence: 7,
            id: "evt_7".into(),
            event_type: EventType::UpdateModeChanged,
            workspace_id: "acme".into(),
            mini_program_id: "p1".into(),
            occurred_at: DateTime::<Utc>::UNIX_EPOCH,
            data: data.into(),
        }
    }

    #[test]
    fn an_update_mode_event_reads_as_the_change_it_announces() {
        let change = update_mode_change(&stored(
            r#"{"workspaceId":"acme","miniProgramId":"p1","actor":"alice","updateMode":"SYNC","previousMode":"ASYNC","revision":4}"#,
        ))
        .unwrap();
        assert_eq!(change.previous_mode, UpdateMode::Async);
        assert_eq!(change.mode, UpdateMode::Sync);
        assert_eq!(change.changed_by, "alice");
        assert_eq!(change.revision, 4);
        assert!(update_mode_change(&stored(r#"{"actor":"alice"}"#)).is_none());
        assert!(
            update_mode_change(&stored(
                r#"{"workspaceId":"acme","miniProgramId":"p1","actor":"alice","updateMode":"SYNC"}"#
            ))
            .is_none(),
            "an update mode event names the mode it replaced and the revision"
        );
    }

    #[test]
    fn version_events_name_their_version() {
        assert_eq!(
            event_version_id(&stored(
                r#"{"workspaceId":"acme","miniProgramId":"p1","actor":"alice","updateMode":"SYNC","versionId":"v1","status":"APPROVED"}"#
            ))
            .as_deref(),
            Some("v1")
        );
        assert_eq!(event_version_id(&stored("{}")), None);
    }
}
