/* grain: one row per association (from object -> to object) in the latest association read */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='association_record_id',
          post_hook="{{ drop_tombstones() }}") }}
with source as (
    select * from {{ ref('base_hubspot__associations') }}
    {{ staging_increment() }}
),

items as (
    select
        record_id as association_record_id,
        payload ->> 'from_type' as from_type,
        payload ->> 'from_id' as from_id,
        payload ->> 'to_type' as to_type,
        {{ json_array_elements("payload -> 'to'") }} as to_item,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at
    from source
    where not is_deleted
),

renamed as (
    select
        association_record_id,
        from_type,
        from_id,
        to_type,
        to_item ->> 'toObjectId' as to_id,
        cast(to_item -> 'associationTypes' -> 0 ->> 'typeId' as integer) as association_type_id,
        version_at,
        _loaded_at,
        false as is_deleted
    from items
),

-- one marker row per incoming record, so that delete+insert also clears records that lost all
-- their targets or were archived; the post-hook removes the markers
markers as (
    select
        record_id as association_record_id,
        cast(null as varchar) as from_type,
        cast(null as varchar) as from_id,
        cast(null as varchar) as to_type,
        cast(null as varchar) as to_id,
        cast(null as integer) as association_type_id,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at,
        true as is_deleted
    from source
)

select * from renamed
union all
select * from markers
