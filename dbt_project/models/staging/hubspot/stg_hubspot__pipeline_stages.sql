/* grain: one row per stage of a live deal pipeline */
with source as (
    select * from {{ ref('base_hubspot__pipelines') }}
    where not is_deleted
),

stages as (
    select
        record_id as pipeline_id,
        payload ->> 'label' as pipeline_label,
        {{ json_array_elements("payload -> 'stages'") }} as stage
    from source
),

renamed as (
    select
        pipeline_id,
        pipeline_label,
        stage ->> 'id' as deal_stage,
        stage ->> 'label' as stage_label,
        cast(stage ->> 'displayOrder' as integer) as display_order,
        lower(coalesce(stage -> 'metadata' ->> 'isClosed', 'false')) = 'true' as is_closed
    from stages
)

select * from renamed
