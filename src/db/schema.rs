// One schema for both backends: the migrations use only types that map to
// the same diesel SQL types on PostgreSQL and SQLite.

diesel::table! {
    mini_programs (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        search_name -> Text,
        program_type -> Text,
        channel -> Text,
        update_mode -> Text,
        revision -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        async_update_seconds -> Integer,
        sync_update_seconds -> Integer,
        policy_revision -> Integer,
        minimum_version -> Nullable<Text>,
        name_key -> Nullable<Text>,
    }
}

diesel::table! {
    mini_program_versions (id) {
        id -> Text,
        mini_program_id -> Text,
        major -> Integer,
        minor -> Integer,
        patch -> Integer,
        description -> Nullable<Text>,
        status -> Text,
        update_mode -> Nullable<Text>,
        created_at -> Timestamp,
        submitted_at -> Nullable<Timestamp>,
        gray_percentage -> Nullable<Integer>,
        decided_at -> Nullable<Timestamp>,
        decided_by -> Nullable<Text>,
        decision_comment -> Nullable<Text>,
        released_at -> Nullable<Timestamp>,
        offline_reason -> Nullable<Text>,
    }
}

diesel::table! {
    version_replacements (version_id) {
        version_id -> Text,
        replaced_version_id -> Text,
    }
}

diesel::table! {
    rollouts (id) {
        id -> Text,
        version_id -> Text,
        mini_program_id -> Text,
        workspace_id -> Text,
        status -> Text,
        steps -> Text,
        current_step -> Integer,
        next_advance_at -> Nullable<Timestamp>,
        paused_reason -> Nullable<Text>,
        started_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    scheduled_update_mode_changes (id) {
        id -> Text,
        mini_program_id -> Text,
        workspace_id -> Text,
        mode -> Text,
        starts_at -> Timestamp,
        ends_at -> Nullable<Timestamp>,
        status -> Text,
        revert_to -> Nullable<Text>,
        started_revision -> Nullable<Integer>,
        created_by -> Text,
        note -> Nullable<Text>,
        created_at -> Timestamp,
        due_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    release_gates (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        name_key -> Text,
        url -> Text,
        active -> Bool,
        secret -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    update_mode_changes (mini_program_id, revision) {
        mini_program_id -> Text,
        revision -> Integer,
        previous_mode -> Text,
        mode -> Text,
        changed_by -> Text,
        changed_at -> Timestamp,
    }
}

diesel::table! {
    client_keys (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        key_hash -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        name_key -> Nullable<Text>,
    }
}

diesel::table! {
    mutation_rate_windows (principal, window_start) {
        principal -> Text,
        window_start -> Timestamp,
        count -> Integer,
    }
}

diesel::joinable!(mini_program_versions -> mini_programs (mini_program_id));
diesel::joinable!(update_mode_changes -> mini_programs (mini_program_id));
diesel::joinable!(rollouts -> mini_program_versions (version_id));

diesel::table! {
    release_integrations (id) {
        id -> Text,
        workspace_id -> Text,
        name -> Text,
        url -> Text,
        events -> Text,
        active -> Bool,
        secret -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        name_key -> Nullable<Text>,
    }
}

diesel::table! {
    hook_events (sequence) {
        sequence -> BigInt,
        id -> Text,
        event_type -> Text,
        workspace_id -> Text,
        mini_program_id -> Text,
        occurred_at -> Timestamp,
        data -> Text,
    }
}

diesel::table! {
    hook_deliveries (id) {
        id -> Text,
        event_sequence -> BigInt,
        mini_program_id -> Text,
        target -> Text,
        integration_id -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        last_error -> Nullable<Text>,
        delivered_at -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(hook_deliveries -> hook_events (event_sequence));
diesel::joinable!(hook_deliveries -> release_integrations (integration_id));

diesel::table! {
    persisted_queries (hash) {
        hash -> Text,
        document -> Text,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
    }
}

diesel::table! {
    audit_records (sequence) {
        sequence -> BigInt,
        workspace_id -> Text,
        actor -> Text,
        action -> Text,
        target_type -> Text,
        target_id -> Text,
        request_id -> Nullable<Text>,
        before_state -> Nullable<Text>,
        after_state -> Nullable<Text>,
        recorded_at -> Timestamp,
        id -> Text,
    }
}

diesel::table! {
    check_in_hours (mini_program_id, hour, cached_version, action, gray, cache_age) {
        mini_program_id -> Text,
        hour -> Timestamp,
        cached_version -> Text,
        action -> Text,
        gray -> Bool,
        cache_age -> Text,
        check_ins -> BigInt,
        devices -> Binary,
        updated_at -> Timestamp,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    mini_programs,
    mini_program_versions,
    update_mode_changes,
    release_integrations,
    hook_events,
    hook_deliveries,
    client_keys,
    mutation_rate_windows,
    persisted_queries,
    audit_records,
    rollouts,
    release_gates,
    version_replacements,
    scheduled_update_mode_changes,
    check_in_hours,
);
