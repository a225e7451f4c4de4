/* grain: one row per Calendly invitee (the lead booked on an event) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='invitee_uri',
          post_hook="{{ drop_tombstones() }}") }}
with source as (
    select * from {{ ref('base_calendly__invitees') }}
    {{ staging_increment() }}
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
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at,
        is_deleted
    from source
)

select * from renamed
