/* grain: one row per stage of a live deal pipeline (a view over the small raw pipelines table) */
with source as (
{{ latest_versions('hubspot', 'pipelines') }}
),

stages as (
    select
        record_id as pipeline_id,
        payload ->> 'label' as pipeline_label,
        {{ json_array_elements("payload -> 'stages'") }} as stage
    from source
    where not is_deleted
),

stage_fields as (
{{ json_fields('stages', {
    'deal_stage': 'id',
    'stage_label': 'label',
    'display_order_raw': 'displayOrder',
    'is_closed_raw': ['metadata', 'isClosed'],
}, column='stage') }}
),

renamed as (
    select
        pipeline_id,
        pipeline_label,
        deal_stage,
        stage_label,
        cast(display_order_raw as integer) as display_order,
        lower(coalesce(is_closed_raw, 'false')) = 'true' as is_closed
    from stage_fields
)

select * from renamed
