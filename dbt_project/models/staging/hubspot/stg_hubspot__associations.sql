/* grain: one row per association (from object -> to object) in the latest association read, plus one
   marker row per association record (`is_marker`) that carries the record's ranking keys and its
   tombstone flag (`is_deleted`); the marker is the only row of an archived record or of one without
   targets. Read the associations `where not is_marker` (a marker has no `to_type`). */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='association_record_id') }}
with source as (
{{ latest_versions('hubspot', 'associations', key='association_record_id', current_where='is_marker') }}
),

fields as (
{{ json_fields('source', {'from_type': 'from_type', 'from_id': 'from_id', 'to_type': 'to_type'}) }}
),

items as (
    select
        record_id as association_record_id,
        from_type,
        from_id,
        to_type,
        -- the target array is taken as JSON from the payload (`payload` passes through `fields`)
        {{ json_array_elements("payload -> 'to'") }} as to_item,
        version_at,
        _loaded_at,
        record_hash
    from fields
    where not is_deleted
),

item_fields as (
{{ json_fields('items', {
    'to_id': 'toObjectId',
    'association_type_id_raw': ['associationTypes', 0, 'typeId'],
}, column='to_item') }}
),

renamed as (
    select
        association_record_id,
        from_type,
        from_id,
        to_type,
        to_id,
        cast(association_type_id_raw as integer) as association_type_id,
        version_at,
        _loaded_at,
        false as is_deleted,
        record_hash,
        false as is_marker
    from item_fields
),

markers as (
    select
        record_id as association_record_id,
        cast(null as varchar) as from_type,
        cast(null as varchar) as from_id,
        cast(null as varchar) as to_type,
        cast(null as varchar) as to_id,
        cast(null as integer) as association_type_id,
        version_at,
        _loaded_at,
        is_deleted,
        record_hash,
        true as is_marker
    from source
)

select *, {{ record_stamp() }} as _built_at from renamed
union all
select *, {{ record_stamp() }} as _built_at from markers
