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

diesel::joinable!(mini_program_versions -> mini_programs (mini_program_id));
diesel::joinable!(update_mode_changes -> mini_programs (mini_program_id));

diesel::allow_tables_to_appear_in_same_query!(
    mini_programs,
    mini_program_versions,
    update_mode_changes
);
