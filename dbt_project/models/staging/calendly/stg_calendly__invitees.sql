/* grain: one row per Calendly invitee (the lead booked on an event), its latest version; deleted
   invitees stay as tombstones (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='invitee_uri') }}
with source as (
{{ latest_versions('calendly', 'invitees', key='invitee_uri') }}
),

fields as (
{{ json_fields('source', {
    'event_uri': 'event',
    'email_raw': 'email',
    'invitee_status_raw': 'status',
    'rescheduled_raw': 'rescheduled',
    'old_invitee_uri_raw': 'old_invitee',
    'new_invitee_uri_raw': 'new_invitee',
    'no_show_uri_raw': ['no_show', 'uri'],
    'no_show_marked_at_raw': ['no_show', 'created_at'],
    'created_at_raw': 'created_at',
    'updated_at_raw': 'updated_at',
}) }}
),

renamed as (
    select
        record_id as invitee_uri,
        event_uri,
        {{ hash_pii('email_raw') }} as email_hash,
        lower(invitee_status_raw) as invitee_status,
        coalesce(lower(rescheduled_raw) = 'true', false) as is_rescheduled,
        nullif(old_invitee_uri_raw, '') as old_invitee_uri,
        nullif(new_invitee_uri_raw, '') as new_invitee_uri,
        no_show_uri_raw is not null as is_no_show,
        {{ to_utc('no_show_marked_at_raw') }} as no_show_marked_at,
        {{ to_utc('created_at_raw') }} as created_at,
        {{ to_utc('updated_at_raw') }} as updated_at,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from fields
)

-- the build that wrote the row: its tests check the rows written since the last complete build (D48)
select *, {{ record_stamp() }} as _built_at from renamed
