/* grain: one row per association (from object -> to object) in the latest association read */
with source as (
    select * from {{ ref('base_hubspot__associations') }}
    where not is_deleted
),

items as (
    select
        payload ->> 'from_type' as from_type,
        payload ->> 'from_id' as from_id,
        payload ->> 'to_type' as to_type,
        {{ json_array_elements("payload -> 'to'") }} as to_item,
        cast(version_ts at time zone 'UTC' as timestamp) as version_at,
        _loaded_at
    from source
),

renamed as (
    select
        from_type,
        from_id,
        to_type,
        to_item ->> 'toObjectId' as to_id,
        cast(to_item -> 'associationTypes' -> 0 ->> 'typeId' as integer) as association_type_id,
        version_at,
        _loaded_at
    from items
)

select * from renamed
