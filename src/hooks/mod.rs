//! Hooks: the plugin interface through which changes are vetted before they
//! commit (guard hooks) and announced after (notify hooks), the dispatcher
//! that delivers announcements from the durable outbox, and the built-in
//! plugin that sends signed webhooks to release-approval integrations, and
//! the release gates asked before a share of devices changes.

mod dispatcher;
pub mod event;
pub mod gates;
mod registry;
pub mod webhooks;

pub use dispatcher::{DispatchSettings, Dispatcher};
pub use event::{EVENTS_CHANNEL, HookEvent, OutboxEvent, StoredEvent};
pub use registry::{GuardHook, HookRegistry, NotifyError, NotifyHook, Veto};
