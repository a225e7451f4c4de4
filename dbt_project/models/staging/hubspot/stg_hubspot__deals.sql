/* grain: one row per HubSpot deal, its latest version; archived deals stay as tombstones
   (`is_deleted`: read `where not is_deleted`) */
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='deal_id') }}
with source as (
{{ latest_versions('hubspot', 'deals', key='deal_id') }}
),

fields as (
{{ json_fields('source', {
    'created_at_raw': 'createdAt',
    'updated_at_raw': 'updatedAt',
    'pipeline_id_raw': ['properties', 'pipeline'],
    'deal_stage_raw': ['properties', 'dealstage'],
    'close_at_raw': ['properties', 'closedate'],
    'amount_raw': ['properties', 'amount'],
    'owner_id_raw': ['properties', 'hubspot_owner_id'],
    'inline_contact_id': ['associations', 'contacts', 'results', 0, 'id'],
}) }}
),

renamed as (
    select
        record_id as deal_id,
        {{ to_utc('created_at_raw') }} as created_at,
        {{ to_utc('updated_at_raw') }} as updated_at,
        nullif(pipeline_id_raw, '') as pipeline_id,
        nullif(deal_stage_raw, '') as deal_stage,
        {{ to_utc('close_at_raw') }} as close_at,
        cast(nullif(amount_raw, '') as double precision) as amount,
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
