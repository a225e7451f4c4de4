/* grain: one row per HubSpot meeting (a mobile-channel appointment), its latest version; archived
   meetings stay as tombstones (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='meeting_id') }}
with source as (
{{ latest_versions('hubspot', 'meetings', key='meeting_id') }}
),

renamed as (
    select
        record_id as meeting_id,
        {{ to_utc("payload ->> 'createdAt'") }} as created_at,
        {{ to_utc("payload ->> 'updatedAt'") }} as updated_at,
        nullif(lower(payload -> 'properties' ->> 'hs_activity_type'), '') as activity_type,
        {{ to_utc("payload -> 'properties' ->> 'hs_meeting_start_time'") }} as starts_at,
        {{ to_utc("payload -> 'properties' ->> 'hs_meeting_end_time'") }} as ends_at,
        upper(coalesce(nullif(payload -> 'properties' ->> 'hs_meeting_outcome', ''), 'SCHEDULED')) as meeting_outcome,
        nullif(payload -> 'properties' ->> 'hubspot_owner_id', '') as owner_id,
        payload -> 'associations' -> 'contacts' -> 'results' -> 0 ->> 'id' as inline_contact_id,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from source
)

select * from renamed
