/* grain: one row per HubSpot contact, its latest version; archived contacts stay as tombstones
   (`is_deleted`: read `where not is_deleted`); merged-away contacts are dropped downstream */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='contact_id') }}
with source as (
{{ latest_versions('hubspot', 'contacts', key='contact_id') }}
),

renamed as (
    select
        record_id as contact_id,
        {{ to_utc("payload ->> 'createdAt'") }} as created_at,
        {{ to_utc("payload ->> 'updatedAt'") }} as updated_at,
        {{ hash_pii("payload -> 'properties' ->> 'email'") }} as email_hash,
        {{ hash_phone("payload -> 'properties' ->> 'phone'") }} as phone_hash,
        nullif(lower(payload -> 'properties' ->> 'lead_channel'), '') as lead_channel,
        nullif(payload -> 'properties' ->> 'lead_source', '') as lead_source,
        nullif(payload -> 'properties' ->> 'hubspot_owner_id', '') as owner_id,
        nullif(payload -> 'properties' ->> 'lifecyclestage', '') as lifecycle_stage,
        nullif(payload -> 'properties' ->> 'hs_merged_object_ids', '') as merged_object_ids,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from source
)

select * from renamed
