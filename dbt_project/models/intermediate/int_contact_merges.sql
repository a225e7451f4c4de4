/* grain: one row per merged-away contact id, with the contact it was merged into */
with survivors as (
    select contact_id, merged_object_ids
    from {{ ref('stg_hubspot__contacts') }}
    where merged_object_ids is not null
),

merged as (
    select contact_id as survivor_id, {{ split_to_rows('merged_object_ids', ';') }} as merged_id
    from survivors
)

select trim(merged_id) as merged_id, min(survivor_id) as survivor_id
from merged
where trim(merged_id) <> ''
group by trim(merged_id)
