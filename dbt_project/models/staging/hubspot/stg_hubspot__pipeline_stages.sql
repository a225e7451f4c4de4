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
