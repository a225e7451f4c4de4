/* grain: one row per Calendly invitee (the lead booked on an event), its latest version; deleted
   invitees stay as tombstones (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='invitee_uri') }}
with source as (
{{ latest_versions('calendly', 'invitees', key='invitee_uri') }}
),

renamed as (
    select
        record_id as invitee_uri,
        payload ->> 'event' as event_uri,
        {{ hash_pii("payload ->> 'email'") }} as email_hash,
        lower(payload ->> 'status') as invitee_status,
        coalesce(lower(payload ->> 'rescheduled') = 'true', false) as is_rescheduled,
        nullif(payload ->> 'old_invitee', '') as old_invitee_uri,
        nullif(payload ->> 'new_invitee', '') as new_invitee_uri,
        payload -> 'no_show' ->> 'uri' is not null as is_no_show,
        {{ to_utc("payload -> 'no_show' ->> 'created_at'") }} as no_show_marked_at,
        {{ to_utc("payload ->> 'created_at'") }} as created_at,
        {{ to_utc("payload ->> 'updated_at'") }} as updated_at,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from source
)

select * from renamed
