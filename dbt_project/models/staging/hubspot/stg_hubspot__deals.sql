/* grain: one row per live HubSpot deal */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='deal_id',
          post_hook="{{ drop_tombstones() }}") }}
with source as (
    select * from {{ ref('base_hubspot__deals') }}
    {{ staging_increment() }}
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
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at,
        is_deleted
    from source
)

select * from renamed
