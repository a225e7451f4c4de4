/* grain: one row per HubSpot contact, its latest version; archived contacts stay as tombstones
   (`is_deleted`: read `where not is_deleted`); merged-away contacts are dropped downstream */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='contact_id') }}
with source as (
{{ latest_versions('hubspot', 'contacts', key='contact_id') }}
),

fields as (
{{ json_fields('source', {
    'created_at_raw': 'createdAt',
    'updated_at_raw': 'updatedAt',
    'email_raw': ['properties', 'email'],
    'phone_raw': ['properties', 'phone'],
    'lead_channel_raw': ['properties', 'lead_channel'],
    'lead_source_raw': ['properties', 'lead_source'],
    'owner_id_raw': ['properties', 'hubspot_owner_id'],
    'lifecycle_stage_raw': ['properties', 'lifecyclestage'],
    'merged_object_ids_raw': ['properties', 'hs_merged_object_ids'],
}) }}
),

renamed as (
    select
        record_id as contact_id,
        {{ to_utc('created_at_raw') }} as created_at,
        {{ to_utc('updated_at_raw') }} as updated_at,
        {{ hash_pii('email_raw') }} as email_hash,
        {{ hash_phone('phone_raw') }} as phone_hash,
        nullif(lower(lead_channel_raw), '') as lead_channel,
        nullif(lead_source_raw, '') as lead_source,
        nullif(owner_id_raw, '') as owner_id,
        nullif(lifecycle_stage_raw, '') as lifecycle_stage,
        nullif(merged_object_ids_raw, '') as merged_object_ids,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from fields
)

-- the build that wrote the row: its tests check the rows written since the last complete build (D48)
select *, {{ record_stamp() }} as _built_at from renamed
