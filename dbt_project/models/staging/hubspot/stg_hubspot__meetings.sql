/* grain: one row per HubSpot meeting (a mobile-channel appointment), its latest version; archived
   meetings stay as tombstones (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='meeting_id') }}
with source as (
{{ latest_versions('hubspot', 'meetings', key='meeting_id') }}
),

fields as (
{{ json_fields('source', {
    'created_at_raw': 'createdAt',
    'updated_at_raw': 'updatedAt',
    'activity_type_raw': ['properties', 'hs_activity_type'],
    'starts_at_raw': ['properties', 'hs_meeting_start_time'],
    'ends_at_raw': ['properties', 'hs_meeting_end_time'],
    'meeting_outcome_raw': ['properties', 'hs_meeting_outcome'],
    'owner_id_raw': ['properties', 'hubspot_owner_id'],
    'inline_contact_id': ['associations', 'contacts', 'results', 0, 'id'],
}) }}
),

renamed as (
    select
        record_id as meeting_id,
        {{ to_utc('created_at_raw') }} as created_at,
        {{ to_utc('updated_at_raw') }} as updated_at,
        nullif(lower(activity_type_raw), '') as activity_type,
        {{ to_utc('starts_at_raw') }} as starts_at,
        {{ to_utc('ends_at_raw') }} as ends_at,
        upper(coalesce(nullif(meeting_outcome_raw, ''), 'SCHEDULED')) as meeting_outcome,
        nullif(owner_id_raw, '') as owner_id,
        inline_contact_id,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from fields
)

-- the build that wrote the row: its tests check the rows written since the last complete build (D48)
select *, {{ record_stamp() }} as _built_at from renamed
