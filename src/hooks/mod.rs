//! Hooks: the plugin interface through which changes are vetted before they
//! commit (guard hooks) and announced after (notify hooks), the dispatcher
//! that delivers announcements from the durable outbox, and the built-in
//! plugin that sends signed webhooks to release-approval integrations.

mod dispatcher;
mod event;
mod registry;
pub mod webhooks;

pub use dispatcher::{DispatchSettings, Dispatcher};
pub use event::HookEvent;
pub use registry::{GuardHook, HookRegistry, NotifyError, NotifyHook, Veto};
