/* grain: one row per HubSpot deal, its latest version; archived deals stay as tombstones
   (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='deal_id') }}
with source as (
{{ latest_versions('hubspot', 'deals', key='deal_id') }}
),

renamed as (
    select
        record_id as deal_id,
        {{ to_utc("payload ->> 'createdAt'") }} as created_at,
        {{ to_utc("payload ->> 'updatedAt'") }} as updated_at,
        nullif(payload -> 'properties' ->> 'pipeline', '') as pipeline_id,
        nullif(payload -> 'properties' ->> 'dealstage', '') as deal_stage,
        {{ to_utc("payload -> 'properties' ->> 'closedate'") }} as close_at,
        cast(nullif(payload -> 'properties' ->> 'amount', '') as double precision) as amount,
        nullif(payload -> 'properties' ->> 'hubspot_owner_id', '') as owner_id,
        payload -> 'associations' -> 'contacts' -> 'results' -> 0 ->> 'id' as inline_contact_id,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash
    from source
)

select * from renamed
